//! Segment statistics, names and descriptions a marketer can read.

use super::Segment;
use super::profile::{DEVICES, Profiles, RawProfile};

/// Aggregate statistics of a set of users.
#[derive(Debug, Clone, Default)]
struct Stats {
    size: usize,
    category_shares: Vec<f64>,
    avg_order_value: f64,
    price_level: f64,
    conversion_rate: f64,
    device_mix: [f64; 3],
    app_share: f64,
}

fn stats<'a>(members: impl Iterator<Item = &'a RawProfile>, n_categories: usize) -> Stats {
    let mut s = Stats {
        category_shares: vec![0.0; n_categories],
        ..Stats::default()
    };
    let (mut monetary, mut orders, mut dev_sum, mut dev_n, mut buyers) =
        (0.0, 0u64, 0.0, 0u64, 0usize);
    let (mut devices, mut app, mut events) = ([0u64; 3], 0u64, 0u64);
    for p in members {
        s.size += 1;
        for (a, w) in s.category_shares.iter_mut().zip(&p.category_weight) {
            *a += w;
        }
        monetary += p.monetary;
        orders += u64::from(p.purchase_days);
        dev_sum += p.price_dev_sum;
        dev_n += u64::from(p.price_dev_n);
        buyers += usize::from(p.purchases > 0);
        for (d, c) in devices.iter_mut().zip(p.devices) {
            *d += u64::from(c);
        }
        app += u64::from(p.app_events);
        events += u64::from(p.events);
    }
    let total: f64 = s.category_shares.iter().sum();
    if total > 0.0 {
        s.category_shares.iter_mut().for_each(|a| *a /= total);
    }
    s.avg_order_value = if orders == 0 {
        0.0
    } else {
        monetary / orders as f64
    };
    s.price_level = if dev_n == 0 {
        0.0
    } else {
        dev_sum / dev_n as f64
    };
    s.conversion_rate = if s.size == 0 {
        0.0
    } else {
        buyers as f64 / s.size as f64
    };
    let device_total: u64 = devices.iter().sum();
    if device_total > 0 {
        for (m, d) in s.device_mix.iter_mut().zip(devices) {
            *m = d as f64 / device_total as f64;
        }
    }
    s.app_share = if events == 0 {
        0.0
    } else {
        app as f64 / events as f64
    };
    s
}

fn percent(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// `+23%` / `-9%` for a mean log-price deviation.
fn price_percent(level: f64) -> String {
    let pct = 100.0 * level.exp_m1();
    format!("{}{pct:.0}%", if pct >= 0.0 { "+" } else { "" })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A readable label of a profile feature.
fn feature_label(name: &str) -> String {
    if let Some(c) = name.strip_prefix("category:") {
        return format!("interest in {c}");
    }
    if let Some(d) = name.strip_prefix("device:") {
        return format!("{d} use");
    }
    match name {
        "price_level" => "price level",
        "recency_days" => "days since the last visit",
        "active_days" => "active days",
        "monetary" => "total spend",
        "average_order_value" => "order value",
        "cart_per_view" => "carts per view",
        "purchase_per_cart" => "purchases per cart",
        "channel:app" => "app use",
        "channel:email" => "e-mail engagement",
        other => other,
    }
    .to_owned()
}

/// Describes every cluster of `labels` (cluster ids `0..k`) against the whole population.
pub(crate) fn describe(profiles: &Profiles, labels: &[u32], k: usize) -> Vec<Segment> {
    let n_cat = profiles.categories.len();
    let shop = stats(profiles.raw.iter(), n_cat);
    let n = profiles.raw.len().max(1);
    let mut segments: Vec<Segment> = (0..k)
        .map(|c| {
            let members: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] as usize == c)
                .collect();
            let s = stats(members.iter().map(|&i| &profiles.raw[i]), n_cat);
            let mut top: Vec<(String, f64)> = profiles
                .categories
                .iter()
                .cloned()
                .zip(s.category_shares.iter().copied())
                .filter(|(_, share)| *share > 0.0)
                .collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(3);
            let mut centroid: Vec<(String, f64)> = profiles
                .feature_names
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    let mean = if members.is_empty() {
                        0.0
                    } else {
                        members.iter().map(|&i| profiles.z[[i, j]]).sum::<f64>()
                            / members.len() as f64
                    };
                    (f.clone(), mean)
                })
                .collect();
            centroid.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            let name = name(&s, &shop, &top);
            let description = sentence(&s, &shop, &top, &profiles.categories, &centroid, n);
            Segment {
                id: c as u32,
                name,
                description,
                size: s.size,
                share: s.size as f64 / n as f64,
                top_categories: top,
                avg_order_value: s.avg_order_value,
                price_level: s.price_level,
                conversion_rate: s.conversion_rate,
                device_mix: DEVICES
                    .iter()
                    .map(|d| (*d).to_owned())
                    .zip(s.device_mix)
                    .collect(),
                centroid_summary: centroid,
            }
        })
        .collect();
    // Names must tell segments apart: number the repeats.
    let base: Vec<String> = segments.iter().map(|s| s.name.clone()).collect();
    for (i, segment) in segments.iter_mut().enumerate() {
        let repeats = base[..i].iter().filter(|b| **b == base[i]).count();
        if repeats > 0 {
            segment.name = format!("{} ({})", base[i], repeats + 1);
        }
    }
    segments
}

fn name(s: &Stats, shop: &Stats, top: &[(String, f64)]) -> String {
    let tilt = s.price_level - shop.price_level;
    let price = if tilt > 0.12 {
        "premium "
    } else if tilt < -0.12 {
        "budget "
    } else {
        ""
    };
    let focus = match top {
        [(a, x), ..] if *x >= 0.45 => format!("{a} lovers"),
        [(a, x), (b, y), ..] if x + y >= 0.6 => format!("{a} & {b} shoppers"),
        _ if s.conversion_rate < 0.5 * shop.conversion_rate => "window shoppers".to_owned(),
        _ => "broad browsers".to_owned(),
    };
    capitalise(&format!("{price}{focus}"))
}

fn sentence(
    s: &Stats,
    shop: &Stats,
    top: &[(String, f64)],
    categories: &[String],
    centroid: &[(String, f64)],
    population: usize,
) -> String {
    let shop_share = |c: &str| {
        categories
            .iter()
            .position(|x| x == c)
            .map_or(0.0, |i| shop.category_shares[i])
    };
    let cats = if top.is_empty() {
        "no item activity yet".to_owned()
    } else {
        let list: Vec<String> = top
            .iter()
            .map(|(c, x)| format!("{c} {} (shop {})", percent(*x), percent(shop_share(c))))
            .collect();
        format!("top categories {}", list.join(", "))
    };
    let main_device = (0..3)
        .max_by(|&a, &b| s.device_mix[a].total_cmp(&s.device_mix[b]))
        .unwrap_or(0);
    let apart: Vec<String> = centroid
        .iter()
        .filter(|(_, z)| z.abs() >= 0.3)
        .take(3)
        .map(|(f, z)| {
            let much = if z.abs() >= 1.0 { "much " } else { "" };
            let dir = if *z > 0.0 { "more" } else { "less" };
            let label = feature_label(f);
            if f == "price_level" || f == "average_order_value" {
                format!(
                    "{much}{} {label}",
                    if *z > 0.0 { "higher" } else { "lower" }
                )
            } else {
                format!("{much}{dir} {label}")
            }
        })
        .collect();
    let apart = if apart.is_empty() {
        "close to the average customer".to_owned()
    } else {
        apart.join(", ")
    };
    format!(
        "{size} customers ({share:.1}% of all); {cats}. Average order value {aov:.2} (shop {shop_aov:.2}); \
         prices {price} against their categories' average (shop {shop_price}). {conv} bought at least once \
         (shop {shop_conv}); {dev} of their events on {device} (shop {shop_dev}), {app} in the app (shop {shop_app}). \
         What sets them apart: {apart}.",
        size = s.size,
        share = 100.0 * s.size as f64 / population as f64,
        aov = s.avg_order_value,
        shop_aov = shop.avg_order_value,
        price = price_percent(s.price_level),
        shop_price = price_percent(shop.price_level),
        conv = percent(s.conversion_rate),
        shop_conv = percent(shop.conversion_rate),
        dev = percent(s.device_mix[main_device]),
        device = DEVICES[main_device],
        shop_dev = percent(shop.device_mix[main_device]),
        app = percent(s.app_share),
        shop_app = percent(shop.app_share),
    )
}

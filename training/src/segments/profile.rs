//! Behaviour profiles: one feature row per user, from events and the catalog.

use crate::data::{Catalog, EventLog, EventType, IdentityLinks};
use crate::ids::IdMap;
use crate::interactions::{link_table, resolved_user};
use ndarray::Array2;
use std::collections::HashMap;

/// Devices recognised in the event log's device key (`<device>/<browser>`).
pub const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];

/// What one user did, in shop units (before standardisation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RawProfile {
    /// Weighted item events (view 1, add to cart 3, purchase 5) per top category of
    /// [`Profiles::categories`].
    pub category_weight: Vec<f64>,
    /// All events of the user.
    pub events: u32,
    pub views: u32,
    pub carts: u32,
    pub purchases: u32,
    /// Seconds since the epoch of the user's latest event.
    pub last_ts: i64,
    pub active_days: u32,
    /// Days with at least one purchase (an order, for the average order value).
    pub purchase_days: u32,
    /// Sum of purchase price × quantity.
    pub monetary: f64,
    /// Sum and count of (log price − mean log price of the item's category) over item events.
    pub price_dev_sum: f64,
    pub price_dev_n: u32,
    /// Events per device of [`DEVICES`].
    pub devices: [u32; 3],
    /// Events in the shop app (browser `app`) and e-mail events.
    pub app_events: u32,
    pub email_events: u32,
}

impl RawProfile {
    /// Days between the user's last event and `now` (seconds since the epoch).
    pub fn recency_days(&self, now: i64) -> f64 {
        if self.events == 0 {
            return 0.0;
        }
        (now - self.last_ts).max(0) as f64 / 86_400.0
    }

    pub fn average_order_value(&self) -> f64 {
        if self.purchase_days == 0 {
            0.0
        } else {
            self.monetary / f64::from(self.purchase_days)
        }
    }

    /// Mean log-price deviation from the items' categories (0 when unknown).
    pub fn price_level(&self) -> f64 {
        if self.price_dev_n == 0 {
            0.0
        } else {
            self.price_dev_sum / f64::from(self.price_dev_n)
        }
    }

    pub fn device_share(&self, d: usize) -> f64 {
        let total: u32 = self.devices.iter().sum();
        if total == 0 {
            0.0
        } else {
            f64::from(self.devices[d]) / f64::from(total)
        }
    }
}

/// How much each feature group counts in the clustering distance, after every column is
/// standardised. A group's weight is spread over its columns (each gets `weight / √columns`),
/// so a group's share of the distance does not grow with its number of columns.
///
/// Defaults: category affinities 3, price level 2, device and channel mix 1.5, recency /
/// frequency / monetary 1, funnel ratios 0.7. Category taste and price level dominate: they
/// are what a marketer targets. Device and channel mix come next: they are a stable habit of
/// a customer and hold together customers whose category mix is split between two favourite
/// categories (with 0.7, such groups were cut in two and the adjusted Rand index against the
/// generator's taste groups fell from about 0.8 to 0.63 on three seeds). Activity levels
/// vary most within a taste and weigh least.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureWeights {
    pub categories: f64,
    pub price_level: f64,
    pub rfm: f64,
    pub funnel: f64,
    pub devices: f64,
}

impl Default for FeatureWeights {
    fn default() -> Self {
        Self {
            categories: 3.0,
            price_level: 2.0,
            rfm: 1.0,
            funnel: 0.7,
            devices: 1.5,
        }
    }
}

/// Profiles of every user of an id map, raw and as standardised, weighted features.
#[derive(Debug, Clone)]
pub struct Profiles {
    /// Top-level categories of the catalog, sorted.
    pub categories: Vec<String>,
    /// One per user, in id-map order.
    pub raw: Vec<RawProfile>,
    /// Latest event time of the log (recency is counted back from it).
    pub now: i64,
    /// Column names of [`features`](Self::features).
    pub feature_names: Vec<String>,
    /// Standardised (z-score) features, before weighting: users × features.
    pub z: Array2<f64>,
    /// Multiplier of each column in the clustering space.
    pub column_weights: Vec<f64>,
}

impl Profiles {
    /// The weighted feature matrix that the clustering works on.
    pub fn weighted(&self) -> Array2<f64> {
        let mut x = self.z.clone();
        for (mut col, w) in x.columns_mut().into_iter().zip(&self.column_weights) {
            col.mapv_inplace(|v| v * w);
        }
        x
    }
}

/// Builds one profile per user of `users` (customer ids or `anon:<anonymous_id>`), resolving
/// every event to its user exactly as the interaction matrix does. Events of users missing
/// from `users` are ignored; users without events get an empty profile.
pub fn build_profiles(
    log: &EventLog,
    links: &IdentityLinks,
    catalog: &Catalog,
    users: &IdMap,
    weights: &FeatureWeights,
) -> Profiles {
    let mut categories: Vec<String> = catalog
        .items
        .iter()
        .map(|i| i.top_category().to_owned())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let cat_index: HashMap<&str, usize> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();

    // Per catalog item: top category and log-price deviation from its full category's mean.
    let mut sub_sum: HashMap<&str, (f64, u32)> = HashMap::new();
    for item in &catalog.items {
        if let Some(p) = item.price.filter(|p| p.is_finite() && *p > 0.0) {
            let e = sub_sum.entry(item.category.as_str()).or_default();
            e.0 += p.ln();
            e.1 += 1;
        }
    }
    let item_info: Vec<(Option<usize>, Option<f64>, Option<f64>)> = catalog
        .items
        .iter()
        .map(|item| {
            let price = item.price.filter(|p| p.is_finite() && *p > 0.0);
            let dev = price.and_then(|p| {
                let (s, n) = sub_sum.get(item.category.as_str())?;
                Some(p.ln() - s / f64::from(*n))
            });
            (cat_index.get(item.top_category()).copied(), dev, price)
        })
        .collect();
    let log_item: Vec<Option<usize>> = log
        .items
        .ids()
        .iter()
        .map(|id| catalog.ids.get(id).map(|i| i as usize))
        .collect();
    let device_class: Vec<(Option<usize>, bool)> = log
        .devices
        .ids()
        .iter()
        .map(|d| {
            let lower = d.to_lowercase();
            let mut parts = lower.split('/');
            let device = parts.next().unwrap_or("");
            let browser = parts.next().unwrap_or("");
            (
                DEVICES.iter().position(|x| device.contains(x)),
                browser == "app" || device == "app",
            )
        })
        .collect();

    let linked = link_table(log, links);
    let mut by_customer: Vec<Option<Option<u32>>> = vec![None; log.customers.len()];
    let mut by_anon: Vec<Option<Option<u32>>> = vec![None; log.anonymous.len()];
    let mut raw = vec![
        RawProfile {
            category_weight: vec![0.0; categories.len()],
            ..RawProfile::default()
        };
        users.len()
    ];
    let mut days: Vec<(u32, i64)> = Vec::new();
    let mut purchase_days: Vec<(u32, i64)> = Vec::new();
    let mut now = i64::MIN;
    for e in &log.events {
        let cached = match (e.customer, e.anonymous) {
            (Some(c), _) => &mut by_customer[c as usize],
            (None, Some(a)) => &mut by_anon[a as usize],
            (None, None) => continue,
        };
        let user = *cached.get_or_insert_with(|| {
            resolved_user(log, &linked, e.customer, e.anonymous).and_then(|(id, _)| users.get(&id))
        });
        now = now.max(e.ts);
        let Some(user) = user else { continue };
        let p = &mut raw[user as usize];
        let day = e.ts.div_euclid(86_400);
        p.events += 1;
        p.last_ts = if p.events == 1 {
            e.ts
        } else {
            p.last_ts.max(e.ts)
        };
        days.push((user, day));
        if let Some((device, app)) = e.device.and_then(|d| device_class.get(d as usize)) {
            if let Some(d) = device {
                p.devices[*d] += 1;
            }
            p.app_events += u32::from(*app);
        }
        if matches!(e.kind, EventType::EmailOpen | EventType::EmailClick) {
            p.email_events += 1;
        }
        let weight = match e.kind {
            EventType::View => 1.0,
            EventType::AddToCart => 3.0,
            EventType::Purchase => 5.0,
            _ => continue,
        };
        match e.kind {
            EventType::View => p.views += 1,
            EventType::AddToCart => p.carts += 1,
            _ => p.purchases += 1,
        }
        let info = e
            .item
            .and_then(|i| log_item.get(i as usize).copied().flatten())
            .map(|i| item_info[i]);
        if let Some((top, dev, _)) = info {
            if let Some(t) = top {
                p.category_weight[t] += weight;
            }
            if let Some(d) = dev {
                p.price_dev_sum += d;
                p.price_dev_n += 1;
            }
        }
        if e.kind == EventType::Purchase {
            let price = e
                .price
                .map(f64::from)
                .filter(|p| p.is_finite())
                .or(info.and_then(|i| i.2));
            p.monetary += price.unwrap_or(0.0) * f64::from(e.quantity.max(1.0));
            purchase_days.push((user, day));
        }
    }
    for (list, set) in [(&mut days, 0), (&mut purchase_days, 1)] {
        list.sort_unstable();
        list.dedup();
        for &(u, _) in list.iter() {
            let p = &mut raw[u as usize];
            if set == 0 {
                p.active_days += 1
            } else {
                p.purchase_days += 1
            }
        }
    }
    let now = if now == i64::MIN { 0 } else { now };
    let (feature_names, columns, groups) = feature_columns(&categories, &raw, now);
    let z = standardise(&columns, raw.len());
    let column_weights = groups
        .iter()
        .map(|&g| {
            let n = groups.iter().filter(|&&h| h == g).count() as f64;
            let w = match g {
                Group::Categories => weights.categories,
                Group::Price => weights.price_level,
                Group::Rfm => weights.rfm,
                Group::Funnel => weights.funnel,
                Group::Devices => weights.devices,
            };
            w / n.sqrt()
        })
        .collect();
    Profiles {
        categories,
        raw,
        now,
        feature_names,
        z,
        column_weights,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Categories,
    Price,
    Rfm,
    Funnel,
    Devices,
}

/// The raw feature columns (with log1p on heavy-tailed counts), their names and groups.
fn feature_columns(
    categories: &[String],
    raw: &[RawProfile],
    now: i64,
) -> (Vec<String>, Vec<Vec<f64>>, Vec<Group>) {
    let mut names = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut groups = Vec::new();
    let mut push = |name: String, group: Group, f: &dyn Fn(&RawProfile) -> f64| {
        names.push(name);
        groups.push(group);
        cols.push(raw.iter().map(f).collect());
    };
    for (c, name) in categories.iter().enumerate() {
        push(
            format!("category:{name}"),
            Group::Categories,
            &move |p: &RawProfile| {
                let total: f64 = p.category_weight.iter().sum();
                if total > 0.0 {
                    p.category_weight[c] / total
                } else {
                    0.0
                }
            },
        );
    }
    push("price_level".into(), Group::Price, &|p| p.price_level());
    push("recency_days".into(), Group::Rfm, &move |p| {
        p.recency_days(now).ln_1p()
    });
    push("active_days".into(), Group::Rfm, &|p| {
        f64::from(p.active_days).ln_1p()
    });
    push("monetary".into(), Group::Rfm, &|p| {
        p.monetary.max(0.0).ln_1p()
    });
    push("average_order_value".into(), Group::Rfm, &|p| {
        p.average_order_value().max(0.0).ln_1p()
    });
    push("cart_per_view".into(), Group::Funnel, &|p| {
        (f64::from(p.carts) / f64::from(p.views.max(1))).min(2.0)
    });
    push("purchase_per_cart".into(), Group::Funnel, &|p| {
        (f64::from(p.purchases) / f64::from(p.carts.max(1))).min(2.0)
    });
    for (d, name) in DEVICES.iter().enumerate() {
        push(
            format!("device:{name}"),
            Group::Devices,
            &move |p: &RawProfile| p.device_share(d),
        );
    }
    push("channel:app".into(), Group::Devices, &|p| {
        f64::from(p.app_events) / f64::from(p.events.max(1))
    });
    push("channel:email".into(), Group::Devices, &|p| {
        f64::from(p.email_events) / f64::from(p.events.max(1))
    });
    (names, cols, groups)
}

/// Column-wise z-scores; a constant column becomes all zeros.
fn standardise(columns: &[Vec<f64>], rows: usize) -> Array2<f64> {
    let mut z = Array2::<f64>::zeros((rows, columns.len()));
    for (j, col) in columns.iter().enumerate() {
        let n = col.len().max(1) as f64;
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        if sd > 1e-12 && sd.is_finite() {
            for (i, v) in col.iter().enumerate() {
                z[[i, j]] = (v - mean) / sd;
            }
        }
    }
    z
}

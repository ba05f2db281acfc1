//! Visitor behaviour: sessions of page views, searches, views, carts, purchases, reviews and
//! e-mail clicks, driven by each visitor's hidden taste group.
//!
//! Visitors are simulated in fixed-size chunks, each with its own seeded RNG, so the output
//! is the same for a seed whatever the number of threads.

use super::catalog::{COLORS, ShopCatalog};
use super::groups::{CHANNELS, DEVICES, GroupModel};
use super::sample::{derive_seed, lognormal_mean_one, pick_in, splitmix, weighted};
use crate::data::EventType;
use crate::data::write::EventRow;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;

/// Visitors per chunk (fixed: changing it changes the data of a seed).
pub(crate) const VISITORS_PER_CHUNK: usize = 2048;

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Expected events of one session, used to plan a visitor's number of sessions.
const EVENTS_PER_SESSION: f64 = 5.5;
/// Share of customers who browsed anonymously before registering.
const ANONYMOUS_PHASE: f64 = 0.6;
/// Share of never-registered visitors whose consent is `anonymous` (no cookie kept: their
/// id is a coarse device key shared by everyone on the same device and browser version).
const ANONYMOUS_CONSENT: f64 = 0.1;
/// Activity spread (sigma of the log-normal number of events per visitor).
const ACTIVITY_SIGMA: f64 = 0.8;
/// Share of views that leave the session's focus category for a random popular item.
const OFF_FOCUS_VIEWS: f64 = 0.08;

/// Visits per hour of the day (UTC), evenings busiest.
const HOUR_WEIGHTS: [f64; 24] = [
    0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.1, 1.3, 1.2, 1.0, 1.0, 1.1, 1.3,
    1.6, 1.9, 2.0, 1.7, 1.1, 0.6,
];

/// Everything the simulation of one visitor needs, shared read-only by all chunks.
pub(crate) struct World<'a> {
    pub shop: &'a ShopCatalog,
    pub groups: &'a [GroupModel],
    /// Group of each customer (visitors `0..customers`).
    pub customer_groups: &'a [u32],
    /// Number of never-registered visitors (visitors `customers..customers + anonymous`).
    pub anonymous: usize,
    /// Mean events of a customer and of a never-registered visitor.
    pub customer_mean: f64,
    pub anonymous_mean: f64,
    /// First millisecond of the simulated period.
    pub start_ms: i64,
    pub end_ms: i64,
    pub days: u32,
    pub seed: u64,
    pub customer_width: usize,
}

/// What one chunk of visitors produced: events (grouped by visitor, chronological within a
/// visitor, without event ids yet) and identity links.
pub(crate) struct ChunkOutput {
    /// Visitors simulated.
    pub visitors: usize,
    pub rows: Vec<EventRow>,
    pub links: Vec<(String, String, i64)>,
}

impl World<'_> {
    pub fn customers(&self) -> usize {
        self.customer_groups.len()
    }

    pub fn visitors(&self) -> usize {
        self.customers() + self.anonymous
    }

    pub fn customer_id(&self, v: usize) -> String {
        format!("c-{v:0w$}", w = self.customer_width)
    }

    /// The cookie id of visitor `v`: a keyed bijection of `v`, so ids are unique and reveal
    /// nothing about the visitor's number.
    fn cookie(&self, v: usize) -> String {
        format!(
            "a-{:016x}",
            splitmix(v as u64 ^ derive_seed(self.seed, 3, 0))
        )
    }

    /// Simulates the visitors of chunk `chunk`.
    pub fn simulate_chunk(&self, chunk: usize) -> ChunkOutput {
        let start = chunk * VISITORS_PER_CHUNK;
        let end = (start + VISITORS_PER_CHUNK).min(self.visitors());
        let mut rng = StdRng::seed_from_u64(derive_seed(self.seed, 4, chunk as u64));
        let mut out = ChunkOutput {
            visitors: end - start,
            rows: Vec::with_capacity(((end - start) as f64 * self.customer_mean * 1.1) as usize),
            links: Vec::new(),
        };
        for v in start..end {
            self.simulate_visitor(v, &mut rng, &mut out);
        }
        out
    }

    fn simulate_visitor(&self, v: usize, rng: &mut StdRng, out: &mut ChunkOutput) {
        let known = v < self.customers();
        let group_index = if known {
            self.customer_groups[v] as usize
        } else {
            let shares: Vec<f64> = self.groups.iter().map(|g| g.group.share).collect();
            weighted(rng, &shares)
        };
        let group = &self.groups[group_index];
        let (mean, min) = if known {
            (
                self.customer_mean,
                if self.customer_mean >= 6.0 { 3 } else { 1 },
            )
        } else {
            (self.anonymous_mean, 1)
        };
        let budget = ((mean * lognormal_mean_one(rng, ACTIVITY_SIGMA)).round() as usize)
            .clamp(min, (mean * 60.0).ceil() as usize);
        let planned = ((budget as f64 / EVENTS_PER_SESSION).round() as usize).max(1);
        // Sessions before `first_known` happen before the customer registered.
        let first_known = if known && planned >= 2 && rng.r#gen::<f64>() < ANONYMOUS_PHASE {
            ((planned as f64 * rng.gen_range(0.25..0.75)).round() as usize).clamp(1, planned - 1)
        } else if known {
            0
        } else {
            usize::MAX
        };

        // Stable per visitor: main device and its browser; consent and cookie.
        let main_device = weighted(rng, &group.group.device_mix);
        let main_browser = browser(rng, main_device);
        let coarse_key = !known && rng.r#gen::<f64>() < ANONYMOUS_CONSENT;
        let (anonymous_id, consent) = if coarse_key {
            let key = format!(
                "dk-{}-{}-{}",
                DEVICES[main_device],
                main_browser,
                rng.gen_range(15..=18)
            );
            (key, "anonymous")
        } else {
            (self.cookie(v), "full")
        };
        let taste_share =
            (group.group.taste_share + 0.05 * super::sample::normal(rng)).clamp(0.6, 0.97);

        let mut sim = Session {
            world: self,
            group,
            rows: Vec::with_capacity(budget),
            session_of: Vec::with_capacity(budget),
            budget,
            session: 0,
            device: main_device,
            browser: main_browser,
            channel: 0,
            consent,
        };
        while !sim.full() {
            let may_email = known && sim.session as usize >= first_known;
            if coarse_key {
                sim.device = main_device;
                sim.browser = main_browser;
                sim.channel = 0;
            } else {
                let mut mix = group.group.channel_mix;
                if !may_email {
                    mix[2] = 0.0;
                }
                sim.channel = weighted(rng, &mix);
                sim.device = if rng.r#gen::<f64>() < 0.75 {
                    main_device
                } else {
                    weighted(rng, &group.group.device_mix)
                };
                sim.browser = if sim.device == main_device {
                    main_browser
                } else {
                    browser(rng, sim.device)
                };
            }
            sim.run(rng, taste_share);
            sim.session += 1;
        }

        // Session start times over the visitor's active window, in order.
        let sessions = (sim.session as usize).max(if known { first_known + 1 } else { 0 });
        let first_day = if rng.r#gen::<f64>() < 0.7 {
            0
        } else {
            rng.gen_range(0..(self.days as f64 * 0.85).ceil().max(1.0) as u32)
        };
        let mut starts: Vec<i64> = (0..sessions)
            .map(|_| {
                let day = rng.gen_range(first_day..self.days) as i64;
                let hour = weighted(rng, &HOUR_WEIGHTS) as i64;
                self.start_ms + day * DAY + hour * HOUR + rng.gen_range(0..HOUR)
            })
            .collect();
        starts.sort_unstable();

        let customer_id = known.then(|| self.customer_id(v));
        let registered_at = if known && first_known > 0 {
            let ts = starts[first_known];
            if let Some(c) = &customer_id {
                out.links.push((anonymous_id.clone(), c.clone(), ts));
            }
            ts
        } else {
            i64::MIN
        };
        let Session {
            mut rows,
            session_of,
            ..
        } = sim;
        for (row, s) in rows.iter_mut().zip(&session_of) {
            row.ts_ms = (starts[*s as usize] + row.ts_ms).min(self.end_ms - 1);
            row.anonymous_id = Some(anonymous_id.clone());
            if row.ts_ms >= registered_at {
                row.customer_id = customer_id.clone();
            }
        }
        rows.sort_by_key(|r| r.ts_ms);
        out.rows.append(&mut rows);
    }
}

fn browser(rng: &mut StdRng, device: usize) -> &'static str {
    match DEVICES[device] {
        "mobile" => ["safari", "chrome", "samsung"][weighted(rng, &[0.55, 0.4, 0.05])],
        "tablet" => ["safari", "chrome"][weighted(rng, &[0.7, 0.3])],
        _ => ["chrome", "safari", "firefox", "edge"][weighted(rng, &[0.6, 0.15, 0.12, 0.13])],
    }
}

/// The events of one visitor being built, session by session, with times relative to the
/// session start until the visitor's session times are drawn.
struct Session<'w, 'a> {
    world: &'w World<'a>,
    group: &'w GroupModel,
    rows: Vec<EventRow>,
    session_of: Vec<u32>,
    budget: usize,
    session: u32,
    device: usize,
    browser: &'static str,
    channel: usize,
    consent: &'static str,
}

impl Session<'_, '_> {
    fn full(&self) -> bool {
        self.rows.len() >= self.budget
    }

    /// Adds an event at `offset` ms into the session; false once the budget is used up.
    fn push(&mut self, offset: i64, row: EventRow) -> bool {
        if self.full() {
            return false;
        }
        let channel = CHANNELS[self.channel];
        self.rows.push(EventRow {
            device: Some(DEVICES[self.device].to_owned()),
            browser: Some(
                if channel == "app" {
                    "app"
                } else {
                    self.browser
                }
                .to_owned(),
            ),
            channel: Some(channel.to_owned()),
            consent: Some(self.consent.to_owned()),
            ..EventRow {
                ts_ms: offset,
                ..row
            }
        });
        self.session_of.push(self.session);
        true
    }

    fn item_row(&self, offset: i64, kind: EventType, item: usize) -> EventRow {
        let shop = self.world.shop;
        EventRow {
            item_id: Some(shop.catalog.items[item].item_id.clone()),
            ..EventRow::new(offset, kind)
        }
    }

    /// An item of top category `top` by this group's weights.
    fn sample_top(&self, rng: &mut StdRng, top: usize) -> Option<usize> {
        let list = &self.world.shop.by_top[top];
        pick_in(rng, &self.group.top_cum[top], 0..list.len()).map(|k| list[k] as usize)
    }

    /// An item of global subcategory `sub` by this group's weights.
    fn sample_sub(&self, rng: &mut StdRng, sub: usize) -> Option<usize> {
        let (top, range): &(usize, Range<usize>) = &self.world.shop.sub_ranges[sub];
        let list = &self.world.shop.by_top[*top];
        pick_in(rng, &self.group.top_cum[*top], range.clone()).map(|k| list[k] as usize)
    }

    /// A popular item anywhere in the shop.
    fn sample_global(&self, rng: &mut StdRng) -> Option<usize> {
        let cum = &self.world.shop.global_cum;
        pick_in(rng, cum, 0..cum.len())
    }

    /// Simulates one session (or what is left of the budget of it).
    fn run(&mut self, rng: &mut StdRng, taste_share: f64) {
        let shop = self.world.shop;
        let group = self.group;
        let n_tops = shop.by_top.len();
        // A taste session browses the group's favourites (a pair of favourites mixes within
        // one visit); an exploring session stays in one random category.
        let taste = rng.r#gen::<f64>() < taste_share;
        let explore_top = rng.gen_range(0..n_tops);
        let pick_top = |rng: &mut StdRng| {
            if taste {
                group.favourite_tops[weighted(rng, &group.group.favourite_weights)]
            } else {
                explore_top
            }
        };
        let focus = pick_top(rng);
        let top_name = shop.tops[focus];
        let mut t = 0;
        if CHANNELS[self.channel] == "email" {
            self.push(t, EventRow::new(t, EventType::EmailOpen));
            t += rng.gen_range(10..600) * SECOND;
            self.push(
                t,
                EventRow {
                    page: Some(format!("/campaign/{top_name}")),
                    ..EventRow::new(t, EventType::EmailClick)
                },
            );
        } else {
            let page = if rng.r#gen::<f64>() < 0.5 {
                "/".to_owned()
            } else {
                format!("/c/{top_name}")
            };
            self.push(
                t,
                EventRow {
                    page: Some(page),
                    ..EventRow::new(t, EventType::PageView)
                },
            );
        }
        let mut sub_focus = None;
        if rng.r#gen::<f64>() < group.group.search_rate
            && let Some(item) = self.sample_top(rng, focus)
        {
            t += rng.gen_range(5..60) * SECOND;
            let sub = shop.sub[item] as usize;
            let mut query = shop.sub_words[sub].clone();
            let r = rng.r#gen::<f64>();
            if r < 0.25
                && let Some(c) = shop.color[item]
            {
                query = format!("{} {query}", COLORS[c as usize]);
            } else if r < 0.4
                && let Some(b) = &shop.catalog.items[item].brand
            {
                query = format!("{} {query}", b.to_lowercase());
            }
            sub_focus = Some(sub);
            self.push(
                t,
                EventRow {
                    page: Some("/search".to_owned()),
                    query: Some(query),
                    ..EventRow::new(t, EventType::Search)
                },
            );
        } else if rng.r#gen::<f64>() < 0.35
            && let Some(item) = self.sample_top(rng, focus)
        {
            t += rng.gen_range(5..60) * SECOND;
            let sub = shop.sub[item] as usize;
            sub_focus = Some(sub);
            let category = &shop.catalog.items[item].category;
            self.push(
                t,
                EventRow {
                    page: Some(format!("/c/{category}")),
                    ..EventRow::new(t, EventType::PageView)
                },
            );
        }

        let mut cart: Vec<(usize, i32)> = Vec::new();
        let views = 1 + geometric(rng, 0.35).min(14);
        for _ in 0..views {
            t += rng.gen_range(8..180) * SECOND;
            let item = if rng.r#gen::<f64>() < OFF_FOCUS_VIEWS {
                self.sample_global(rng)
            } else {
                match sub_focus {
                    Some(sub) if rng.r#gen::<f64>() < 0.7 => self.sample_sub(rng, sub),
                    _ => None,
                }
                .or_else(|| {
                    let top = pick_top(rng);
                    self.sample_top(rng, top)
                })
                .or_else(|| self.sample_global(rng))
            };
            let Some(item) = item else { continue };
            let mut row = self.item_row(t, EventType::View, item);
            row.page = Some(format!("/p/{}", shop.catalog.items[item].item_id));
            if !self.push(t, row) {
                return;
            }
            let likes = group.likes(shop, item);
            let p_cart = group.group.cart_propensity * if likes { 1.8 } else { 0.7 };
            if rng.r#gen::<f64>() < p_cart {
                t += rng.gen_range(5..90) * SECOND;
                let quantity = [1, 2, 3][weighted(rng, &[0.85, 0.11, 0.04])];
                let mut row = self.item_row(t, EventType::AddToCart, item);
                row.quantity = Some(quantity);
                row.price = shop.catalog.items[item].price;
                self.push(t, row);
                cart.push((item, quantity));
            }
        }
        for (item, quantity) in cart {
            t += rng.gen_range(20..300) * SECOND;
            let price = shop.catalog.items[item].price;
            if rng.r#gen::<f64>() < group.group.purchase_propensity {
                let mut row = self.item_row(t, EventType::Purchase, item);
                row.quantity = Some(quantity);
                row.price = price;
                self.push(t, row);
                if rng.r#gen::<f64>() < 0.12 {
                    let later = t + rng.gen_range(2..15) * DAY + rng.gen_range(0..DAY);
                    let rating = review_rating(rng, group.likes(shop, item));
                    let mut row = self.item_row(later, EventType::Review, item);
                    row.rating = Some(rating as f32);
                    row.text = Some(review_text(rng, rating).to_owned());
                    self.push(later, row);
                }
            } else if rng.r#gen::<f64>() < 0.3 {
                let mut row = self.item_row(t, EventType::RemoveFromCart, item);
                row.quantity = Some(quantity);
                row.price = price;
                self.push(t, row);
            }
        }
    }
}

/// Failures before the first success, success probability `p`.
fn geometric(rng: &mut StdRng, p: f64) -> usize {
    let u: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
    (u.ln() / (1.0 - p).ln()).floor() as usize
}

fn review_rating(rng: &mut StdRng, likes: bool) -> u8 {
    let weights: [f64; 5] = if likes {
        [0.02, 0.03, 0.1, 0.35, 0.5]
    } else {
        [0.1, 0.15, 0.3, 0.3, 0.15]
    };
    weighted(rng, &weights) as u8 + 1
}

fn review_text(rng: &mut StdRng, rating: u8) -> &'static str {
    let texts: &[&str] = match rating {
        1 => &[
            "Disappointed, sent it back.",
            "Poor quality, would not buy again.",
        ],
        2 => &[
            "Not what I expected.",
            "Looks cheaper than in the pictures.",
        ],
        3 => &["Okay for the price.", "Decent, nothing special."],
        4 => &[
            "Good quality, happy with it.",
            "Nice, fits well.",
            "Does the job nicely.",
        ],
        _ => &[
            "Love it!",
            "Excellent, exactly as described.",
            "Great value, recommended.",
        ],
    };
    texts[rng.gen_range(0..texts.len())]
}

//! Hidden taste groups: what each kind of customer likes and how they shop.

use super::catalog::{COLORS, ShopCatalog, Tier, top_names};
use super::sample::{cumulative, derive_seed};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Channels in the order of [`TasteGroup::channel_mix`].
pub const CHANNELS: [&str; 3] = ["web", "app", "email"];
/// Devices in the order of [`TasteGroup::device_mix`].
pub const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];

const CHANNEL_MIXES: [[f64; 3]; 3] = [[0.3, 0.62, 0.08], [0.78, 0.12, 0.1], [0.5, 0.15, 0.35]];
const DEVICE_MIXES: [[f64; 3]; 3] = [[0.72, 0.18, 0.1], [0.22, 0.68, 0.1], [0.38, 0.3, 0.32]];

/// One hidden taste group of the synthetic shop, as written to `ground_truth/groups.json`.
///
/// Customers of a group draw about [`TasteGroup::taste_share`] of their sessions from the
/// favourite categories (weighted by `favourite_weights`), prefer the group's colors and
/// brand tier everywhere, and use channels and devices by the given mixes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TasteGroup {
    pub id: u32,
    /// A readable summary, e.g. `premium electronics & books shoppers (app, desktop)`.
    pub name: String,
    /// Favourite top-level categories (one or two).
    pub favourite_categories: Vec<String>,
    pub favourite_weights: Vec<f64>,
    /// Share of sessions that focus on a favourite category (the rest explore at random).
    pub taste_share: f64,
    pub colors: Vec<String>,
    /// Preferred brand tier, which also sets the price level.
    pub brand_tier: Tier,
    /// Probability over [`CHANNELS`] (web, app, email).
    pub channel_mix: [f64; 3],
    /// Probability over [`DEVICES`] (mobile, desktop, tablet).
    pub device_mix: [f64; 3],
    /// Probability that a viewed item goes to the cart.
    pub cart_propensity: f64,
    /// Probability that a cart item is bought.
    pub purchase_propensity: f64,
    /// Probability that a session contains a search.
    pub search_rate: f64,
    /// Relative size of the group (shares sum to 1).
    pub share: f64,
}

/// A group plus its sampling tables.
pub(crate) struct GroupModel {
    pub group: TasteGroup,
    pub favourite_tops: Vec<usize>,
    /// Per top category: prefix sums of this group's item weights over `by_top[top]`.
    pub top_cum: Vec<Vec<f64>>,
}

impl GroupModel {
    /// Whether an item is to this group's taste (favourite category and preferred tier).
    pub fn likes(&self, shop: &ShopCatalog, item: usize) -> bool {
        self.favourite_tops.contains(&(shop.top[item] as usize))
            && shop.tier[item] == self.group.brand_tier
    }
}

/// How much a group's preferences multiply an item's base popularity.
fn affinity(group: &TasteGroup, color_set: &[u8], tier: Tier, color: Option<u8>) -> f64 {
    let tier_factor = match (group.brand_tier, tier) {
        (a, b) if a == b => 4.0,
        (Tier::Mid, _) | (_, Tier::Mid) => 0.8,
        _ => 0.15,
    };
    let color_factor = match color {
        Some(c) if color_set.contains(&c) => 3.0,
        Some(_) => 0.7,
        None => 1.0,
    };
    tier_factor * color_factor
}

/// Builds `n` taste groups deterministically from `seed`, with their sampling tables.
pub(crate) fn build(n: usize, seed: u64, shop: &ShopCatalog) -> Vec<GroupModel> {
    let mut rng = StdRng::seed_from_u64(derive_seed(seed, 2, 0));
    let tops = top_names();
    let mut perm: Vec<usize> = (0..tops.len()).collect();
    perm.shuffle(&mut rng);
    let mut tier_order = Tier::ALL;
    tier_order.shuffle(&mut rng);
    let raw_shares: Vec<f64> = (0..n).map(|_| rng.gen_range(0.7..1.3)).collect();
    let share_total: f64 = raw_shares.iter().sum();

    let mut groups = Vec::with_capacity(n);
    for g in 0..n {
        let mut favourite_tops = vec![perm[g % tops.len()]];
        // Categories no group has as its first favourite become second favourites.
        if n + g < tops.len() {
            favourite_tops.push(perm[n + g]);
        }
        let favourite_weights = if favourite_tops.len() == 2 {
            vec![0.62, 0.38]
        } else {
            vec![1.0]
        };
        let mut palette: Vec<u8> = (0..COLORS.len() as u8).collect();
        palette.shuffle(&mut rng);
        let color_set: Vec<u8> = palette[..3].to_vec();
        let brand_tier = tier_order[g % 3];
        let channel = (g + g / 3) % 3;
        let device = (2 * g + g / 3) % 3;
        let favourite_names: Vec<String> =
            favourite_tops.iter().map(|&t| tops[t].to_owned()).collect();
        let name = format!(
            "{} {} shoppers ({}, {})",
            brand_tier.as_str(),
            favourite_names.join(" & "),
            ["app", "web", "email"][channel],
            ["mobile", "desktop", "mixed devices"][device],
        );
        let group = TasteGroup {
            id: g as u32,
            name,
            favourite_categories: favourite_names,
            favourite_weights,
            taste_share: 0.84,
            colors: color_set
                .iter()
                .map(|&c| COLORS[c as usize].to_owned())
                .collect(),
            brand_tier,
            channel_mix: CHANNEL_MIXES[channel],
            device_mix: DEVICE_MIXES[device],
            cart_propensity: rng.gen_range(0.08..0.2),
            purchase_propensity: rng.gen_range(0.3..0.6),
            search_rate: rng.gen_range(0.2..0.55),
            share: raw_shares[g] / share_total,
        };
        let top_cum = shop
            .by_top
            .iter()
            .map(|list| {
                cumulative(list.iter().map(|&i| {
                    let i = i as usize;
                    shop.popularity[i] * affinity(&group, &color_set, shop.tier[i], shop.color[i])
                }))
            })
            .collect();
        groups.push(GroupModel {
            group,
            favourite_tops,
            top_cum,
        });
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::catalog;

    #[test]
    fn default_groups_have_distinct_first_favourites() {
        let shop = catalog::build(500, 3);
        let groups = build(6, 3, &shop);
        assert_eq!(groups.len(), 6);
        let mut firsts: Vec<usize> = groups.iter().map(|g| g.favourite_tops[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 6);
        let shares: f64 = groups.iter().map(|g| g.group.share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
        // Tiers rotate, so neighbouring groups differ in price level.
        assert_ne!(groups[0].group.brand_tier, groups[1].group.brand_tier);
        for g in &groups {
            assert_eq!(g.top_cum.len(), shop.by_top.len());
            assert!(g.group.name.contains(&g.group.favourite_categories[0]));
        }
    }
}

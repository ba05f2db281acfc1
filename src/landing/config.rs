//! The `[landing]` section of the configuration: page templates (slots with a strategy and
//! a size) and segment campaigns, parsed into enums when the configuration loads and checked
//! once by [`LandingConfig::check`], whose errors name the offending key
//! (`landing.pages.home.slots[2].size`).
//!
//! # How a campaign names its segment
//!
//! Segment ids and generated names are not stable: the trainer numbers segments by size and
//! names them from their statistics, so both can change with every training run. A campaign
//! therefore targets segments by what the trainer *describes* about them (see
//! `kindred_training::segments::Segment`), through a [`SegmentSelector`]:
//!
//! - `top_category`: the segment's leading category (the one with the largest share of its
//!   weighted item events) lies under one of these category paths;
//! - `price`: the segment's price level against the other segments (`budget`, `regular`,
//!   `premium`, with the same ±0.12 log-price tilt the trainer uses to name segments);
//! - `id`: a segment id, for a bundle that is known not to change (fragile; avoid).
//!
//! Every condition given must hold; the first campaign (in configuration order) that matches
//! the visitor's segment and is valid now wins, and everyone else sees `default_hero`.

use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashSet};

/// Most items one slot may show.
pub const MAX_SLOT_SIZE: usize = 50;
/// Most items one page may show, all slots together (keeps composition well under 1 ms).
pub const MAX_PAGE_ITEMS: usize = 200;
/// Largest discount a campaign may give, in percent. Anything above is almost certainly a
/// typo (150 for 15) and would sell below cost.
pub const MAX_DISCOUNT_PERCENT: f64 = 90.0;
/// Smallest discount, in percent: below it a value is most likely a fraction written by
/// mistake (0.15 for 15%).
pub const MIN_DISCOUNT_PERCENT: f64 = 1.0;

/// A rule of the `[landing]` section that failed, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("configuration key {key}: {message}")]
pub struct LandingConfigError {
    /// The full key, e.g. `landing.pages.home.slots[2].size`.
    pub key: String,
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> LandingConfigError {
    LandingConfigError {
        key: key.into(),
        message: message.into(),
    }
}

/// How a slot is filled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The visitor's segment campaign (or the default hero): headline, text, discount, and
    /// `size` items matching the campaign's item filter (`size` may be 0: a banner only).
    Hero,
    /// Personal recommendations from the visitor's history.
    RecommendedForYou,
    /// Items similar to the item the visitor interacted with last; the title names it.
    BecauseYouViewed,
    /// What the visitor's nearest customers bought or carted ("also want").
    CustomersLikeYou,
    /// The trending items of the visitor's segment (the shop's, without a segment).
    TrendingInSegment,
    /// The visitor's own recent items, newest first.
    RecentlyViewed,
    /// The discounted items of the visitor's campaign (items matching its filter), ranked
    /// for the visitor; empty when the visitor's campaign has no discount.
    Promotion,
}

impl Strategy {
    /// The configuration spelling (`recommended_for_you`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Hero => "hero",
            Strategy::RecommendedForYou => "recommended_for_you",
            Strategy::BecauseYouViewed => "because_you_viewed",
            Strategy::CustomersLikeYou => "customers_like_you",
            Strategy::TrendingInSegment => "trending_in_segment",
            Strategy::RecentlyViewed => "recently_viewed",
            Strategy::Promotion => "promotion",
        }
    }

    /// The title shown when the slot gives none; `{item}` is the viewed item's title.
    pub fn default_title(self) -> &'static str {
        match self {
            Strategy::Hero => "",
            Strategy::RecommendedForYou => "Recommended for you",
            Strategy::BecauseYouViewed => "Because you viewed {item}",
            Strategy::CustomersLikeYou => "Customers like you also want",
            Strategy::TrendingInSegment => "Trending with shoppers like you",
            Strategy::RecentlyViewed => "Recently viewed",
            Strategy::Promotion => "Special offer",
        }
    }
}

/// What fills a slot that its strategy leaves short (a new visitor has no history to find
/// similar items for).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The shop's trending items.
    Trending,
}

impl Fallback {
    /// The title of a slot filled entirely by the fallback.
    pub fn title(self) -> &'static str {
        match self {
            Fallback::Trending => "Trending now",
        }
    }
}

/// One slot of a page template.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotTemplate {
    /// Unique within the page; default: the strategy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub strategy: Strategy,
    /// Number of items, 1 ..= 50 (0 ..= 50 for the hero, which is a banner without items).
    pub size: usize,
    /// The heading; default: [`Strategy::default_title`]. `{item}` in a
    /// `because_you_viewed` title is replaced by the viewed item's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What tops the slot up when its strategy finds fewer than `size` items. Without one, a
    /// short slot shows what it has and an empty slot is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

impl SlotTemplate {
    /// The slot's id: the configured one, or the strategy's name.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(self.strategy.as_str())
    }
}

/// A page: an ordered list of slots.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTemplate {
    /// The page's heading in the HTML preview; default: the page name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub slots: Vec<SlotTemplate>,
}

/// A price tier of a segment against the other segments of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceTier {
    /// Buys clearly cheaper items than the other segments.
    Budget,
    /// Neither budget nor premium.
    Regular,
    /// Buys clearly pricier items than the other segments.
    Premium,
}

/// One category path or several.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

/// Which segments a campaign targets, by what the trainer describes about them (see the
/// module docs). Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentSelector {
    /// The segment's leading category lies under one of these paths (`"sports"` or
    /// `["sports", "clothing"]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_category: Option<OneOrMany>,
    /// The segment's price tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceTier>,
    /// A segment id (ids change between trainings: prefer the descriptors above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

/// Which items a campaign features (and discounts). The default is every item.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemFilter {
    /// Only items under this category path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Only items under the leading category of the visitor's segment (the segment's
    /// favourite); campaigns with a `segment` only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub favourite_category: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
}

/// A point in time written as a date (`2026-01-01`, midnight UTC) or an RFC 3339 time,
/// quoted or as a TOML date; parsed when the configuration loads.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    /// Epoch seconds.
    pub epoch: i64,
    /// As written.
    pub text: String,
}

impl Moment {
    /// Parses `2026-01-01` or `2026-01-01T08:00:00Z`.
    pub fn parse(text: &str) -> Result<Moment, String> {
        let t = text.trim();
        let epoch = if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            d.and_hms_opt(0, 0, 0)
                .map(|dt| dt.and_utc().timestamp())
                .ok_or_else(|| format!("invalid date {t:?}"))?
        } else {
            DateTime::parse_from_rfc3339(t)
                .map(|dt| dt.with_timezone(&Utc).timestamp())
                .map_err(|e| {
                    format!("{t:?} is neither a date (2026-01-31) nor an RFC 3339 time: {e}")
                })?
        };
        Ok(Moment {
            epoch,
            text: t.to_owned(),
        })
    }
}

impl serde::Serialize for Moment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(t) => t,
            Raw::Toml(t) => t.to_string(),
        };
        Moment::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A campaign: what the hero shows, and the discount a `promotion` slot applies.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// A stable name, unique among the campaigns (reported in responses and metrics).
    pub id: String,
    /// The segments it targets; required for `campaigns`, absent on `default_hero`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentSelector>,
    pub headline: String,
    #[serde(default)]
    pub text: String,
    /// The code a shopper enters; given together with `discount_percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
    /// 1 ..= 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_percent: Option<f64>,
    /// The campaign applies from this time on (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Moment>,
    /// The campaign applies until this time (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Moment>,
    /// The items it features and discounts.
    #[serde(default)]
    pub items: ItemFilter,
    /// A banner image for the hero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Where the hero links to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Campaign {
    /// Whether the campaign applies at epoch second `now`.
    pub fn valid_at(&self, now: i64) -> bool {
        self.valid_from.as_ref().is_none_or(|f| now >= f.epoch)
            && self.valid_until.as_ref().is_none_or(|u| now < u.epoch)
    }
}

/// The `[landing]` section: page templates, segment campaigns and the default hero.
///
/// Defaults: `default_page` `home`, one built-in `home` page (hero, because you viewed,
/// recommended for you, customers like you, trending in segment, recently viewed), a
/// welcome hero without discount, and no campaigns.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LandingConfig {
    /// The page composed when a request names none.
    pub default_page: String,
    /// The hero of visitors whom no campaign targets.
    pub default_hero: Campaign,
    /// Page templates by name.
    pub pages: BTreeMap<String, PageTemplate>,
    /// Segment campaigns; the first that matches the visitor's segment and is valid wins.
    pub campaigns: Vec<Campaign>,
}

fn slot(strategy: Strategy, size: usize, fallback: Option<Fallback>) -> SlotTemplate {
    SlotTemplate {
        id: None,
        strategy,
        size,
        title: None,
        fallback,
    }
}

impl Default for LandingConfig {
    fn default() -> Self {
        let home = PageTemplate {
            title: Some("Home".into()),
            slots: vec![
                slot(Strategy::Hero, 2, Some(Fallback::Trending)),
                slot(Strategy::BecauseYouViewed, 6, Some(Fallback::Trending)),
                slot(Strategy::RecommendedForYou, 8, Some(Fallback::Trending)),
                slot(Strategy::CustomersLikeYou, 6, Some(Fallback::Trending)),
                slot(Strategy::TrendingInSegment, 6, None),
                slot(Strategy::RecentlyViewed, 6, None),
            ],
        };
        Self {
            default_page: "home".into(),
            default_hero: Campaign {
                id: "default".into(),
                headline: "Welcome".into(),
                text: "Picked for you today.".into(),
                ..Campaign::default()
            },
            pages: BTreeMap::from([("home".to_owned(), home)]),
            campaigns: Vec::new(),
        }
    }
}

/// Whether `s` is a usable name: 1 to 64 of `a-z A-Z 0-9 _ -`.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl LandingConfig {
    /// Checks every rule, returning the first that fails with the key it concerns.
    pub fn check(&self) -> Result<(), LandingConfigError> {
        if self.pages.is_empty() {
            return Err(err("landing.pages", "at least one page is needed"));
        }
        for (name, page) in &self.pages {
            check_page(name, page)?;
        }
        if !self.pages.contains_key(&self.default_page) {
            return Err(err(
                "landing.default_page",
                format!(
                    "page {:?} is not defined (pages: {})",
                    self.default_page,
                    self.page_names().join(", ")
                ),
            ));
        }
        let hero = &self.default_hero;
        check_campaign("landing.default_hero", hero)?;
        if hero.segment.is_some() {
            return Err(err(
                "landing.default_hero.segment",
                "the default hero applies to everyone no campaign targets; it takes no segment",
            ));
        }
        if hero.valid_from.is_some() || hero.valid_until.is_some() {
            return Err(err(
                "landing.default_hero.valid_from",
                "the default hero always applies; it takes no validity (use a campaign)",
            ));
        }
        if hero.items.favourite_category {
            return Err(err(
                "landing.default_hero.items.favourite_category",
                "only a campaign with a segment has a favourite category",
            ));
        }
        let mut ids = HashSet::new();
        for (i, c) in self.campaigns.iter().enumerate() {
            let key = format!("landing.campaigns[{i}]");
            check_campaign(&key, c)?;
            let Some(sel) = &c.segment else {
                return Err(err(
                    format!("{key}.segment"),
                    format!(
                        "campaign {:?} needs a segment (top_category, price or id); \
                         the default_hero is for everyone else",
                        c.id
                    ),
                ));
            };
            check_selector(&format!("{key}.segment"), sel)?;
            if c.id == hero.id || !ids.insert(c.id.as_str()) {
                return Err(err(
                    format!("{key}.id"),
                    format!("campaign id {:?} is used twice", c.id),
                ));
            }
        }
        Ok(())
    }

    /// The configured page names, sorted.
    pub fn page_names(&self) -> Vec<&str> {
        self.pages.keys().map(String::as_str).collect()
    }
}

fn check_page(name: &str, page: &PageTemplate) -> Result<(), LandingConfigError> {
    let key = format!("landing.pages.{name}");
    if !is_name(name) {
        return Err(err(
            &key,
            "a page name is 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    if page.slots.is_empty() {
        return Err(err(
            format!("{key}.slots"),
            "a page needs at least one slot",
        ));
    }
    let mut ids = HashSet::new();
    let mut total = 0;
    let mut heroes = 0;
    for (i, s) in page.slots.iter().enumerate() {
        let key = format!("{key}.slots[{i}]");
        let min = usize::from(s.strategy != Strategy::Hero);
        if !(min..=MAX_SLOT_SIZE).contains(&s.size) {
            return Err(err(
                format!("{key}.size"),
                format!(
                    "must be between {min} and {MAX_SLOT_SIZE} for a {} slot, got {}",
                    s.strategy.as_str(),
                    s.size
                ),
            ));
        }
        total += s.size;
        if let Some(id) = &s.id
            && !is_name(id)
        {
            return Err(err(
                format!("{key}.id"),
                format!("{id:?}: a slot id is 1 to 64 letters, digits, '_' or '-'"),
            ));
        }
        if !ids.insert(s.id()) {
            return Err(err(
                format!("{key}.id"),
                format!(
                    "slot id {:?} is used twice on the page; give each slot of the same strategy an id",
                    s.id()
                ),
            ));
        }
        if let Some(t) = &s.title
            && (t.trim().is_empty() || t.len() > 200)
        {
            return Err(err(
                format!("{key}.title"),
                "must be 1 to 200 characters (leave it out for the default)",
            ));
        }
        if s.strategy == Strategy::Hero {
            heroes += 1;
            if heroes > 1 {
                return Err(err(
                    format!("{key}.strategy"),
                    "a page has at most one hero",
                ));
            }
        }
    }
    if total > MAX_PAGE_ITEMS {
        return Err(err(
            format!("{key}.slots"),
            format!("the slots show {total} items together; at most {MAX_PAGE_ITEMS}"),
        ));
    }
    Ok(())
}

fn check_selector(key: &str, s: &SegmentSelector) -> Result<(), LandingConfigError> {
    if *s == SegmentSelector::default() {
        return Err(err(
            key,
            "give at least one of top_category, price or id to say which segments it targets",
        ));
    }
    if let Some(cats) = &s.top_category {
        if cats.as_slice().is_empty() {
            return Err(err(format!("{key}.top_category"), "must list a category"));
        }
        if cats
            .as_slice()
            .iter()
            .any(|c| c.trim_matches('/').trim().is_empty())
        {
            return Err(err(
                format!("{key}.top_category"),
                "a category path must not be empty",
            ));
        }
    }
    Ok(())
}

fn check_campaign(key: &str, c: &Campaign) -> Result<(), LandingConfigError> {
    if !is_name(&c.id) {
        return Err(err(
            format!("{key}.id"),
            format!(
                "{:?}: a campaign id is 1 to 64 letters, digits, '_' or '-'",
                c.id
            ),
        ));
    }
    if c.headline.trim().is_empty() || c.headline.len() > 200 {
        return Err(err(
            format!("{key}.headline"),
            "must be 1 to 200 characters",
        ));
    }
    match (&c.discount_code, c.discount_percent) {
        (None, None) => {}
        (Some(_), None) => {
            return Err(err(
                format!("{key}.discount_percent"),
                "a discount_code needs a discount_percent",
            ));
        }
        (None, Some(_)) => {
            return Err(err(
                format!("{key}.discount_code"),
                "a discount_percent needs a discount_code for the shopper to enter",
            ));
        }
        (Some(code), Some(p)) => {
            if !(p.is_finite() && (MIN_DISCOUNT_PERCENT..=MAX_DISCOUNT_PERCENT).contains(&p)) {
                return Err(err(
                    format!("{key}.discount_percent"),
                    format!(
                        "must be between {MIN_DISCOUNT_PERCENT} and {MAX_DISCOUNT_PERCENT} \
                         (percent, not a fraction), got {p}"
                    ),
                ));
            }
            if code.len() > 32 || !is_name(code) {
                return Err(err(
                    format!("{key}.discount_code"),
                    format!("{code:?}: a code is 1 to 32 letters, digits, '_' or '-'"),
                ));
            }
        }
    }
    if let (Some(f), Some(u)) = (&c.valid_from, &c.valid_until)
        && f.epoch >= u.epoch
    {
        return Err(err(
            format!("{key}.valid_until"),
            format!(
                "must be after valid_from ({} is not after {})",
                u.text, f.text
            ),
        ));
    }
    let it = &c.items;
    for (name, v) in [("min_price", it.min_price), ("max_price", it.max_price)] {
        if let Some(v) = v
            && (!v.is_finite() || v < 0.0)
        {
            return Err(err(
                format!("{key}.items.{name}"),
                format!("must be a finite, non-negative number, got {v}"),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (it.min_price, it.max_price)
        && lo > hi
    {
        return Err(err(
            format!("{key}.items.min_price"),
            format!("min_price ({lo}) is greater than max_price ({hi})"),
        ));
    }
    if let Some(cat) = &it.category {
        if cat.trim_matches('/').trim().is_empty() {
            return Err(err(format!("{key}.items.category"), "must not be empty"));
        }
        if it.favourite_category {
            return Err(err(
                format!("{key}.items.favourite_category"),
                "give either category or favourite_category, not both",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<LandingConfig, String> {
        let c: LandingConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.check().map_err(|e| e.to_string())?;
        Ok(c)
    }

    const PAGE: &str = r#"
[pages.home]
slots = [
  { strategy = "hero", size = 0 },
  { strategy = "recommended_for_you", size = 8 },
  { strategy = "promotion", size = 4, fallback = "trending" },
]
"#;

    fn with_campaign(campaign: &str) -> String {
        format!("{PAGE}\n[[campaigns]]\n{campaign}")
    }

    const GOOD: &str = r#"id = "sale"
segment = { top_category = "sports", price = "budget" }
headline = "Sale"
discount_code = "SALE15"
discount_percent = 15
valid_from = "2026-01-01"
valid_until = 2026-02-01
items = { favourite_category = true }"#;

    fn key_of(text: &str) -> String {
        let c: LandingConfig = toml::from_str(text).unwrap();
        c.check().unwrap_err().key
    }

    #[test]
    fn the_default_and_a_good_campaign_pass() {
        LandingConfig::default().check().unwrap();
        let c = parse(&with_campaign(GOOD)).unwrap();
        let sale = &c.campaigns[0];
        assert_eq!(sale.valid_from.as_ref().unwrap().epoch, 1_767_225_600);
        assert_eq!(sale.valid_until.as_ref().unwrap().text, "2026-02-01");
        assert!(sale.valid_at(1_767_225_600) && !sale.valid_at(1_769_904_000));
        assert_eq!(
            sale.segment.as_ref().unwrap().top_category,
            Some(OneOrMany::One("sports".into()))
        );
        assert_eq!(
            c.pages["home"].slots[1].strategy,
            Strategy::RecommendedForYou
        );
        assert_eq!(c.pages["home"].slots[1].id(), "recommended_for_you");
    }

    #[test]
    fn sample_config_landing_section_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kindred.toml.sample");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = crate::config::Config::from_toml(&text, &path).unwrap();
        config.validate().unwrap();
        let l = &config.landing;
        assert_eq!(l.default_page, "home");
        let home = &l.pages["home"];
        let kinds: Vec<Strategy> = home.slots.iter().map(|s| s.strategy).collect();
        assert_eq!(kinds[0], Strategy::Hero);
        for s in [
            Strategy::BecauseYouViewed,
            Strategy::RecommendedForYou,
            Strategy::CustomersLikeYou,
            Strategy::TrendingInSegment,
            Strategy::RecentlyViewed,
            Strategy::Promotion,
        ] {
            assert!(
                kinds.contains(&s),
                "{s:?} missing from the sample home page"
            );
        }
        // One campaign per top-level category of the demo shop (10) plus a catch-all for
        // budget segments.
        assert_eq!(l.campaigns.len(), 11);
        assert!(l.campaigns.iter().all(|c| c.segment.is_some()));
        assert!(
            l.campaigns
                .iter()
                .any(|c| c.discount_percent.is_some() && c.items.favourite_category)
        );
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let bad_slot = |slot: &str| {
            format!(
                "[pages.home]\nslots = [{{ strategy = \"hero\", size = 1 }}, {{ strategy = \"recommended_for_you\", size = 4 }}, {slot}]"
            )
        };
        let cases: Vec<(String, &str)> = vec![
            (
                bad_slot("{ strategy = \"trending_in_segment\", size = 0 }"),
                "landing.pages.home.slots[2].size",
            ),
            (
                bad_slot("{ strategy = \"trending_in_segment\", size = 51 }"),
                "landing.pages.home.slots[2].size",
            ),
            (
                bad_slot("{ strategy = \"recommended_for_you\", size = 3 }"),
                "landing.pages.home.slots[2].id",
            ),
            (
                bad_slot("{ strategy = \"hero\", size = 3, id = \"second\" }"),
                "landing.pages.home.slots[2].strategy",
            ),
            (
                bad_slot("{ strategy = \"recently_viewed\", size = 3, title = \" \" }"),
                "landing.pages.home.slots[2].title",
            ),
            (
                bad_slot("{ strategy = \"recently_viewed\", size = 3, id = \"a b\" }"),
                "landing.pages.home.slots[2].id",
            ),
            (
                "[pages.home]\nslots = []".into(),
                "landing.pages.home.slots",
            ),
            (
                format!("default_page = \"start\"\n{PAGE}"),
                "landing.default_page",
            ),
            (
                format!(
                    "{PAGE}\n[pages.\"bad name\"]\nslots = [{{ strategy = \"hero\", size = 1 }}]"
                ),
                "landing.pages.bad name",
            ),
            (
                format!("{PAGE}\n[default_hero]\nid = \"d\"\nheadline = \"\""),
                "landing.default_hero.headline",
            ),
            (
                format!(
                    "{PAGE}\n[default_hero]\nid = \"d\"\nheadline = \"Hi\"\nsegment = {{ price = \"budget\" }}"
                ),
                "landing.default_hero.segment",
            ),
            (
                format!(
                    "{PAGE}\n[default_hero]\nid = \"d\"\nheadline = \"Hi\"\nvalid_from = \"2026-01-01\""
                ),
                "landing.default_hero.valid_from",
            ),
            (
                with_campaign(&GOOD.replace("discount_percent = 15", "discount_percent = 95")),
                "landing.campaigns[0].discount_percent",
            ),
            (
                with_campaign(&GOOD.replace("discount_percent = 15", "discount_percent = 0")),
                "landing.campaigns[0].discount_percent",
            ),
            (
                with_campaign(&GOOD.replace("discount_percent = 15", "discount_percent = 0.15")),
                "landing.campaigns[0].discount_percent",
            ),
            (
                with_campaign(&GOOD.replace("discount_percent = 15", "discount_percent = -10")),
                "landing.campaigns[0].discount_percent",
            ),
            (
                with_campaign(&GOOD.replace("discount_percent = 15\n", "")),
                "landing.campaigns[0].discount_percent",
            ),
            (
                with_campaign(&GOOD.replace("discount_code = \"SALE15\"\n", "")),
                "landing.campaigns[0].discount_code",
            ),
            (
                with_campaign(&GOOD.replace("SALE15", "SALE 15")),
                "landing.campaigns[0].discount_code",
            ),
            (
                with_campaign(
                    &GOOD.replace("valid_until = 2026-02-01", "valid_until = \"2025-12-31\""),
                ),
                "landing.campaigns[0].valid_until",
            ),
            (
                with_campaign(
                    &GOOD.replace("valid_until = 2026-02-01", "valid_until = \"2026-01-01\""),
                ),
                "landing.campaigns[0].valid_until",
            ),
            (
                with_campaign(&GOOD.replace(
                    "segment = { top_category = \"sports\", price = \"budget\" }\n",
                    "",
                )),
                "landing.campaigns[0].segment",
            ),
            (
                with_campaign(
                    &GOOD.replace("{ top_category = \"sports\", price = \"budget\" }", "{}"),
                ),
                "landing.campaigns[0].segment",
            ),
            (
                with_campaign(&GOOD.replace("top_category = \"sports\"", "top_category = []")),
                "landing.campaigns[0].segment.top_category",
            ),
            (
                with_campaign(&GOOD.replace(
                    "{ favourite_category = true }",
                    "{ min_price = 50, max_price = 10 }",
                )),
                "landing.campaigns[0].items.min_price",
            ),
            (
                with_campaign(&GOOD.replace(
                    "{ favourite_category = true }",
                    "{ favourite_category = true, category = \"shoes\" }",
                )),
                "landing.campaigns[0].items.favourite_category",
            ),
            (
                format!("{}\n[[campaigns]]\n{GOOD}", with_campaign(GOOD)),
                "landing.campaigns[1].id",
            ),
        ];
        for (text, key) in cases {
            assert_eq!(key_of(&text), key, "{text}");
            let message = parse(&text).unwrap_err();
            assert!(
                message.starts_with(&format!("configuration key {key}: ")),
                "{message}"
            );
        }
        let msg = parse(&with_campaign(
            &GOOD.replace("discount_percent = 15", "discount_percent = 150"),
        ))
        .unwrap_err();
        assert_eq!(
            msg,
            "configuration key landing.campaigns[0].discount_percent: must be between 1 and 90 \
             (percent, not a fraction), got 150"
        );
    }

    #[test]
    fn parse_errors_name_the_place() {
        let unknown_strategy =
            parse("[pages.home]\nslots = [{ strategy = \"best_sellers\", size = 3 }]").unwrap_err();
        assert!(
            unknown_strategy.contains("best_sellers")
                && unknown_strategy.contains("recommended_for_you"),
            "{unknown_strategy}"
        );
        let bad_date = parse(&with_campaign(
            &GOOD.replace("\"2026-01-01\"", "\"2026-13-01\""),
        ))
        .unwrap_err();
        assert!(
            bad_date.contains("valid_from") && bad_date.contains("2026-13-01"),
            "{bad_date}"
        );
        let typo = parse("[pages.home]\nslots = [{ strategy = \"hero\", sise = 3 }]").unwrap_err();
        assert!(typo.contains("sise"), "{typo}");
    }
}

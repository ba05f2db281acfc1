//! [`compose`]: fills a page template for one [`Visitor`] from the model's queries.
//!
//! Slots are filled in template order. Every slot asks its query for more than it shows
//! (its size plus everything already placed) and skips items already on the page and items
//! out of stock, so no item appears twice and no out-of-stock item appears. A slot left
//! short is topped up by its declared fallback (trending); a slot left empty is dropped
//! (except the hero, a banner that stands without items).
//!
//! The composer reads only the [`Visitor`] (its history, embedding and segment) and the
//! [`Model`], so a visitor whose live events were merged in gets a page that reflects them.

use super::config::{Campaign, Fallback, LandingConfig, PriceTier, SlotTemplate, Strategy};
use crate::serving::{
    AlsoWanted, Filters, ListQuery, Model, PersonalScores, QueryError, SegmentRef, Visitor,
    also_want_rows, category_under, personal_scores, recommend_scored_rows, similar_rows,
};
use kindred_training::segments::Segment;
use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Price-level tilt (mean log-price deviation against the segments' average) beyond which a
/// segment is `budget` or `premium`: the threshold the trainer names segments with.
pub const PRICE_TILT: f64 = 0.12;

/// Why a page could not be composed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LandingError {
    #[error("unknown page {page:?}; the configured pages are: {known}")]
    UnknownPage { page: String, known: String },
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// One item on a page. Its catalog fields borrow from the model that composed the page (a
/// page has some 40 items; copying their strings was a measurable share of a page's cost).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LandingItem<'m> {
    pub item_id: Cow<'m, str>,
    pub title: Cow<'m, str>,
    pub category: Cow<'m, str>,
    pub price: Option<f64>,
    /// The price after the slot's campaign discount, rounded to cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounted_price: Option<f64>,
    pub image_url: Option<Cow<'m, str>>,
    pub url: Option<Cow<'m, str>>,
    /// Higher is better within the slot; the scale depends on the strategy.
    pub score: f32,
    /// Why it was chosen, for people.
    pub reason: String,
}

/// A campaign as a page shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub headline: String,
    pub text: String,
    pub discount_code: Option<String>,
    /// Percent off, 1 ..= 90.
    pub discount_percent: Option<f64>,
    /// As configured (a date or an RFC 3339 time); `None`: open-ended.
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub image_url: Option<String>,
    pub link: Option<String>,
    /// Whether this is the default hero (no campaign targets the visitor's segment).
    pub default: bool,
}

/// The item a `because_you_viewed` slot is about.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AnchorItem {
    pub item_id: String,
    pub title: String,
}

/// One filled slot.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SlotOut<'m> {
    pub id: String,
    /// The slot's strategy.
    pub kind: Strategy,
    pub title: String,
    pub items: Vec<LandingItem<'m>>,
    /// The campaign of `hero` and `promotion` slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignOut>,
    /// The viewed item of a `because_you_viewed` slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorItem>,
    /// Items that came from the slot's fallback (trending) rather than its strategy.
    pub fallback_items: usize,
}

/// Who the page is for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VisitorOut {
    /// The customer id, or `anon:<id>` for an anonymous visitor.
    pub id: String,
    /// Whether anything is known about the visitor (bundle history or live events).
    pub known: bool,
    /// True when the page was composed for an anonymous visitor because the customer id
    /// asked for is unknown.
    pub anonymous_fallback: bool,
    /// Says why, when `anonymous_fallback` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    pub segment: Option<SegmentRef>,
}

/// A composed landing page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LandingPage<'m> {
    pub model_version: String,
    /// The page template's name.
    pub page: String,
    pub title: String,
    pub visitor: VisitorOut,
    /// In template order; empty slots without a fallback are left out.
    pub slots: Vec<SlotOut<'m>>,
}

/// The price tier of `seg` against the size-weighted mean price level of the model's
/// segments.
pub fn price_tier(model: &Model, seg: &Segment) -> PriceTier {
    let Some(s) = &model.segmentation else {
        return PriceTier::Regular;
    };
    let size: usize = s.segments.iter().map(|x| x.size).sum();
    let mean = if size == 0 {
        0.0
    } else {
        s.segments
            .iter()
            .map(|x| x.price_level * x.size as f64)
            .sum::<f64>()
            / size as f64
    };
    let tilt = seg.price_level - mean;
    if tilt > PRICE_TILT {
        PriceTier::Premium
    } else if tilt < -PRICE_TILT {
        PriceTier::Budget
    } else {
        PriceTier::Regular
    }
}

/// The segment's leading category (largest share of its item events).
pub fn favourite_category(seg: &Segment) -> Option<&str> {
    seg.top_categories.first().map(|(c, _)| c.as_str())
}

/// Whether `campaign`'s segment selector matches `seg`.
pub fn targets(model: &Model, campaign: &Campaign, seg: &Segment) -> bool {
    let Some(sel) = &campaign.segment else {
        return false;
    };
    if sel.id.is_some_and(|id| id != seg.id) {
        return false;
    }
    if let Some(cats) = &sel.top_category {
        let Some(fav) = favourite_category(seg) else {
            return false;
        };
        if !cats.as_slice().iter().any(|c| category_under(fav, c)) {
            return false;
        }
    }
    if sel.price.is_some_and(|p| p != price_tier(model, seg)) {
        return false;
    }
    true
}

/// The campaign a visitor of segment `seg` sees at epoch second `now`: the first configured
/// campaign that targets the segment and is valid now, else the default hero.
pub fn campaign_for<'c>(
    model: &Model,
    config: &'c LandingConfig,
    seg: Option<&Segment>,
    now: i64,
) -> &'c Campaign {
    seg.and_then(|s| {
        config
            .campaigns
            .iter()
            .find(|c| c.valid_at(now) && targets(model, c, s))
    })
    .unwrap_or(&config.default_hero)
}

fn campaign_out(c: &Campaign, config: &LandingConfig) -> CampaignOut {
    CampaignOut {
        id: c.id.clone(),
        headline: c.headline.clone(),
        text: c.text.clone(),
        discount_code: c.discount_code.clone(),
        discount_percent: c.discount_percent,
        valid_from: c.valid_from.as_ref().map(|m| m.text.clone()),
        valid_until: c.valid_until.as_ref().map(|m| m.text.clone()),
        image_url: c.image_url.clone(),
        link: c.link.clone(),
        default: std::ptr::eq(c, &config.default_hero),
    }
}

/// Hashes item rows with one multiplication. A page's sets hold some 40 rows and are probed
/// a few hundred times; SipHash's cost showed in profiles, and rows are not attacker-chosen
/// keys.
#[derive(Debug, Default, Clone, Copy)]
struct RowHasher(u64);

impl Hasher for RowHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A set of item rows.
type RowSet = HashSet<u32, BuildHasherDefault<RowHasher>>;

/// A candidate for a slot: item-table row, score, reason.
struct Candidate<'m> {
    row: usize,
    score: f32,
    reason: Reason<'m>,
}

/// Why a candidate is offered; put into words only for the items placed.
#[derive(Debug, Clone, Copy)]
enum Reason<'m> {
    /// A personal recommendation ("because you liked …", from the visitor's scores).
    Personal,
    /// Similar to the item with this title.
    Similar(&'m str),
    /// Bought or carted by this many of the visitor's nearest customers.
    Neighbours(u32),
    /// Trending in the segment of this name, or (`None`) in the shop.
    Trending(Option<&'m str>),
    /// From the visitor's own recent items.
    Recent,
}

struct Composer<'a, 'm> {
    model: &'m Model,
    visitor: &'a Visitor<'m>,
    segment: Option<&'m Segment>,
    placed: RowSet,
    /// Items in the visitor's history: trending slots leave them out (they are for
    /// discovery; `recently_viewed` shows them).
    owned: RowSet,
    /// Personal recommendations (in stock), asked for once per page, best first.
    pool: Option<Vec<Candidate<'m>>>,
    /// How many recommendations the pool asks for: every item of the page, so that slots
    /// drawing from it never run short because of what other slots took.
    pool_k: usize,
    /// Recommendations passing the page campaign's item filter, asked for once for the hero
    /// and the promotion together; what they did not take.
    campaign_pool: Option<Vec<Candidate<'m>>>,
    /// How many the campaign pool asks for: the hero's and promotions' sizes.
    campaign_k: usize,
    /// The visitor's recommender scores, computed once per page for every cut.
    scores: Option<PersonalScores>,
}

fn in_stock() -> Filters {
    Filters {
        in_stock: true,
        ..Filters::default()
    }
}

fn discounted(price: Option<f64>, percent: Option<f64>) -> Option<f64> {
    let (p, pct) = (price?, percent?);
    Some((p * (1.0 - pct / 100.0) * 100.0).round() / 100.0)
}

/// Not there for this bundle (no recommender, no segments): an empty result, not an error.
fn or_empty<T>(r: Result<Vec<T>, QueryError>) -> Result<Vec<T>, QueryError> {
    match r {
        Err(QueryError::Unavailable(_)) => Ok(Vec::new()),
        other => other,
    }
}

impl<'m> Composer<'_, 'm> {
    fn query(&self, size: usize, filters: Filters) -> ListQuery {
        ListQuery {
            k: size + self.placed.len(),
            exact: false,
            filters,
        }
    }

    fn usable(&self, row: usize) -> bool {
        !self.placed.contains(&(row as u32))
            && self.model.items.items.get(row).is_some_and(|i| i.in_stock)
    }

    /// Places up to `size` usable candidates, in order.
    fn take(
        &mut self,
        candidates: impl IntoIterator<Item = Candidate<'m>>,
        size: usize,
        discount: Option<f64>,
        out: &mut Vec<LandingItem<'m>>,
    ) {
        for c in candidates {
            if out.len() >= size {
                break;
            }
            if !self.usable(c.row) {
                continue;
            }
            self.placed.insert(c.row as u32);
            let item = &self.model.items.items[c.row];
            out.push(LandingItem {
                item_id: Cow::Borrowed(&item.item_id),
                title: Cow::Borrowed(&item.title),
                category: Cow::Borrowed(&item.category),
                price: item.price,
                discounted_price: discounted(item.price, discount),
                image_url: item.image_url.as_deref().map(Cow::Borrowed),
                url: item.url.as_deref().map(Cow::Borrowed),
                score: c.score,
                reason: self.reason(&c),
            });
        }
    }

    fn reason(&self, c: &Candidate<'m>) -> String {
        match c.reason {
            Reason::Personal => self
                .scores
                .as_ref()
                .map_or_else(String::new, |s| s.reason(self.model, c.row)),
            Reason::Similar(title) => format!("similar to {title}"),
            Reason::Neighbours(customers) => AlsoWanted {
                row: c.row as u32,
                score: c.score,
                customers,
            }
            .reason(),
            Reason::Trending(Some(segment)) => format!("trending in segment {segment}"),
            Reason::Trending(None) => "trending in the shop".to_owned(),
            Reason::Recent => "you looked at this recently".to_owned(),
        }
    }

    fn ensure_pool(&mut self) -> Result<(), QueryError> {
        if self.pool.is_none() {
            let q = ListQuery {
                k: self.pool_k.max(1),
                exact: false,
                filters: in_stock(),
            };
            self.pool = Some(or_empty(self.recommend(&q))?);
        }
        Ok(())
    }

    /// Personal recommendations passing `campaign`'s item filter (all when `None`): first
    /// from the page's pool, then, when that runs short, from a filtered query.
    fn recommended(
        &mut self,
        campaign: Option<&Campaign>,
        size: usize,
        out: &mut Vec<LandingItem<'m>>,
    ) -> Result<(), QueryError> {
        let filters = match campaign {
            Some(c) => match self.campaign_filters(c) {
                Some(f) => f,
                None => return Ok(()),
            },
            None => in_stock(),
        };
        let discount = campaign.and_then(|c| c.discount_percent);
        self.ensure_pool()?;
        let compiled = filters.compile(self.model)?;
        let pool = self.pool.take().unwrap_or_default();
        let pool = self.draw(pool, |r| compiled.keep(r), size, discount, out);
        self.pool = Some(pool);
        if out.len() >= size || filters == in_stock() {
            return Ok(());
        }
        // The campaign's items (the hero and the promotion share one campaign): asked for
        // once for both slots, the rest kept for the next.
        let fresh = self.campaign_pool.is_none();
        let cached = match self.campaign_pool.take() {
            Some(c) => c,
            None => self.fetch(self.campaign_k, filters.clone())?,
        };
        let rest = self.draw(cached, |_| true, size, discount, out);
        self.campaign_pool = Some(rest);
        if out.len() < size && !fresh {
            // Slots in between took some: ask once more.
            let found = self.fetch(size, filters)?;
            self.take(found, size, discount, out);
        }
        Ok(())
    }

    /// Personal recommendations passing `filters`, `size` beyond what is placed already.
    fn fetch(&mut self, size: usize, filters: Filters) -> Result<Vec<Candidate<'m>>, QueryError> {
        let q = self.query(size, filters);
        or_empty(self.recommend(&q))
    }

    /// Personal recommendations for `q`, from the visitor's scores computed once per page;
    /// their reasons are worked out when placed.
    fn recommend(&mut self, q: &ListQuery) -> Result<Vec<Candidate<'m>>, QueryError> {
        if self.scores.is_none() {
            self.scores = Some(personal_scores(self.model, self.visitor)?);
        }
        let rows = match &self.scores {
            Some(scores) => recommend_scored_rows(self.model, scores, q)?,
            None => Vec::new(),
        };
        Ok(rows
            .into_iter()
            .map(|(row, score)| Candidate {
                row: row as usize,
                score,
                reason: Reason::Personal,
            })
            .collect())
    }

    /// Places candidates of `pool` that pass `keep` until `out` holds `size`, returning the
    /// candidates not placed (in order).
    fn draw(
        &mut self,
        pool: Vec<Candidate<'m>>,
        keep: impl Fn(usize) -> bool,
        size: usize,
        discount: Option<f64>,
        out: &mut Vec<LandingItem<'m>>,
    ) -> Vec<Candidate<'m>> {
        let (mut chosen, mut rest) = (Vec::new(), Vec::new());
        let room = size.saturating_sub(out.len());
        for c in pool {
            if chosen.len() < room && keep(c.row) && self.usable(c.row) {
                chosen.push(c);
            } else {
                rest.push(c);
            }
        }
        self.take(chosen, size, discount, out);
        rest
    }

    /// The filters of a campaign's items; `None` when it names the visitor's favourite
    /// category and the visitor has none.
    fn campaign_filters(&self, c: &Campaign) -> Option<Filters> {
        let category = if c.items.favourite_category {
            Some(favourite_category(self.segment?)?.to_owned())
        } else {
            c.items.category.clone()
        };
        Some(Filters {
            category,
            min_price: c.items.min_price,
            max_price: c.items.max_price,
            ..in_stock()
        })
    }

    /// Up to `limit` trending items the page can still use (the visitor's segment's list,
    /// or the shop's), the visitor's own items left out.
    fn trending(&self, segment: bool, limit: usize) -> Vec<Candidate<'m>> {
        let pop = &self.model.popularity_rows;
        let (list, reason) = match self.segment.filter(|_| segment) {
            Some(seg) => match pop.by_segment.get(&seg.id) {
                Some(list) => (list, Reason::Trending(Some(seg.name.as_str()))),
                None => (&pop.global, Reason::Trending(None)),
            },
            None => (&pop.global, Reason::Trending(None)),
        };
        list.iter()
            .filter(|(row, _)| self.usable(*row as usize) && !self.owned.contains(row))
            .take(limit)
            .map(|(row, score)| Candidate {
                row: *row as usize,
                score: *score,
                reason,
            })
            .collect()
    }

    fn recently_viewed(&self) -> Vec<Candidate<'m>> {
        let mut seen = RowSet::default();
        self.visitor
            .history
            .iter()
            .rev()
            .filter(|h| seen.insert(h.item))
            .enumerate()
            .map(|(i, h)| Candidate {
                row: h.item as usize,
                score: 1.0 / (1.0 + i as f32),
                reason: Reason::Recent,
            })
            .collect()
    }

    fn slot(
        &mut self,
        t: &SlotTemplate,
        campaign: &Campaign,
        config: &LandingConfig,
    ) -> Result<Option<SlotOut<'m>>, QueryError> {
        let mut items = Vec::new();
        let mut title = t
            .title
            .clone()
            .unwrap_or_else(|| t.strategy.default_title().to_owned());
        let mut campaign_shown = None;
        let mut anchor = None;
        match t.strategy {
            Strategy::Hero => {
                if t.title.is_none() {
                    title = campaign.headline.clone();
                }
                campaign_shown = Some(campaign_out(campaign, config));
                self.recommended(Some(campaign), t.size, &mut items)?;
            }
            Strategy::Promotion => {
                if campaign.discount_percent.is_some() {
                    if t.title.is_none() {
                        title = campaign.headline.clone();
                    }
                    campaign_shown = Some(campaign_out(campaign, config));
                    self.recommended(Some(campaign), t.size, &mut items)?;
                }
            }
            Strategy::RecommendedForYou => self.recommended(None, t.size, &mut items)?,
            Strategy::BecauseYouViewed => {
                if let Some(last) = self.visitor.history.last() {
                    let model = self.model;
                    let row = last.item as usize;
                    let item = &model.items.items[row];
                    title = title.replace("{item}", &item.title);
                    anchor = Some(AnchorItem {
                        item_id: item.item_id.clone(),
                        title: item.title.clone(),
                    });
                    let found =
                        or_empty(similar_rows(model, row, &self.query(t.size, in_stock())))?;
                    let found = found.into_iter().map(|(r, score)| Candidate {
                        row: r as usize,
                        score,
                        reason: Reason::Similar(&item.title),
                    });
                    self.take(found, t.size, None, &mut items);
                }
            }
            Strategy::CustomersLikeYou => {
                let found = or_empty(also_want_rows(
                    self.model,
                    self.visitor,
                    &self.query(t.size, in_stock()),
                ))?;
                let found = found.into_iter().map(|w| Candidate {
                    row: w.row as usize,
                    score: w.score,
                    reason: Reason::Neighbours(w.customers),
                });
                self.take(found, t.size, None, &mut items);
            }
            Strategy::TrendingInSegment => {
                let found = self.trending(true, t.size);
                self.take(found, t.size, None, &mut items);
            }
            Strategy::RecentlyViewed => {
                let found = self.recently_viewed();
                self.take(found, t.size, None, &mut items);
            }
        }
        let own = items.len();
        if own < t.size
            && let Some(fallback) = t.fallback
        {
            match fallback {
                Fallback::Trending => {
                    let found = self.trending(false, t.size);
                    self.take(found, t.size, None, &mut items);
                }
            }
            if own == 0 && !items.is_empty() && t.strategy != Strategy::Hero {
                title = fallback.title().to_owned();
                campaign_shown = None;
                anchor = None;
            }
        }
        if items.is_empty() && t.strategy != Strategy::Hero {
            return Ok(None);
        }
        Ok(Some(SlotOut {
            id: t.id().to_owned(),
            kind: t.strategy,
            title,
            fallback_items: items.len() - own,
            items,
            campaign: campaign_shown,
            anchor,
        }))
    }
}

/// Composes page `page` of `config` for `visitor` at epoch second `now` (campaign validity
/// is checked against it).
pub fn compose<'m>(
    model: &'m Model,
    visitor: &Visitor<'m>,
    config: &LandingConfig,
    page: &str,
    now: i64,
) -> Result<LandingPage<'m>, LandingError> {
    let template = config
        .pages
        .get(page)
        .ok_or_else(|| LandingError::UnknownPage {
            page: page.to_owned(),
            known: config.page_names().join(", "),
        })?;
    let segment = visitor.segment.and_then(|id| model.segment(id));
    let campaign = campaign_for(model, config, segment, now);
    let pool_k = template.slots.iter().map(|s| s.size).sum();
    let mut composer = Composer {
        model,
        visitor,
        segment,
        placed: RowSet::default(),
        owned: visitor.history.iter().map(|h| h.item).collect(),
        pool: None,
        pool_k,
        campaign_pool: None,
        campaign_k: template
            .slots
            .iter()
            .filter(|s| matches!(s.strategy, Strategy::Hero | Strategy::Promotion))
            .map(|s| s.size)
            .sum(),
        scores: None,
    };
    let mut slots = Vec::with_capacity(template.slots.len());
    for t in &template.slots {
        if let Some(s) = composer.slot(t, campaign, config)? {
            slots.push(s);
        }
    }
    Ok(LandingPage {
        model_version: model.version.clone(),
        page: page.to_owned(),
        title: template.title.clone().unwrap_or_else(|| page.to_owned()),
        visitor: VisitorOut {
            id: visitor.id.to_string(),
            known: visitor.is_known(),
            anonymous_fallback: false,
            notice: None,
            segment: segment.map(|s| SegmentRef {
                id: s.id,
                name: s.name.clone(),
                description: s.description.clone(),
            }),
        },
        slots,
    })
}

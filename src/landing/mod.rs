//! Dynamic landing pages: a page template (configuration) lists slots, each with a strategy
//! and a size; [`compose`] fills them for one [`crate::serving::Visitor`] from the model's
//! queries, without duplicates across slots and without out-of-stock items, and [`html`]
//! renders the result as a self-contained preview page.
//!
//! The life cycle follows the files: [`config`] (templates and campaigns, parsed into enums
//! and checked when the configuration loads), [`compose`] (one page for one visitor),
//! [`html`] (the marketer's preview), and [`json`] (the page written as JSON directly: the
//! hot path of `POST /v1/landing-page`).

pub mod compose;
pub mod config;
pub mod html;
pub mod json;

pub use compose::{
    AnchorItem, CampaignOut, LandingError, LandingItem, LandingPage, SlotOut, VisitorOut,
    campaign_for, compose, favourite_category, price_tier, targets,
};
pub use config::{
    Campaign, Fallback, ItemFilter, LandingConfig, LandingConfigError, PageTemplate, PriceTier,
    SegmentSelector, SlotTemplate, Strategy,
};

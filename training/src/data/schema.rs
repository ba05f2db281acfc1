//! In-memory event, catalog and identity types (the schema of DESIGN.md).

use crate::ids::IdMap;
use std::fmt;
use std::str::FromStr;

/// What a visitor did. The wire names are the snake_case strings of DESIGN.md.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageView,
    View,
    Search,
    AddToCart,
    RemoveFromCart,
    Purchase,
    Review,
    EmailOpen,
    EmailClick,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::PageView,
        EventType::View,
        EventType::Search,
        EventType::AddToCart,
        EventType::RemoveFromCart,
        EventType::Purchase,
        EventType::Review,
        EventType::EmailOpen,
        EventType::EmailClick,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PageView => "page_view",
            EventType::View => "view",
            EventType::Search => "search",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::Purchase => "purchase",
            EventType::Review => "review",
            EventType::EmailOpen => "email_open",
            EventType::EmailClick => "email_click",
        }
    }

    /// Whether an event of this type must name an item.
    pub fn needs_item(self) -> bool {
        matches!(
            self,
            EventType::View
                | EventType::AddToCart
                | EventType::RemoveFromCart
                | EventType::Purchase
                | EventType::Review
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event type {s:?} (expected one of: {})",
                    EventType::ALL.map(|t| t.as_str()).join(", ")
                )
            })
    }
}

/// One tracking event with its ids interned into the owning [`EventLog`]'s maps.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub ts: i64,
    /// Offset into [`EventLog::customers`], when the visitor was known.
    pub customer: Option<u32>,
    /// Offset into [`EventLog::anonymous`], when the event carried a cookie / device id.
    pub anonymous: Option<u32>,
    pub kind: EventType,
    /// Offset into [`EventLog::items`] for item events.
    pub item: Option<u32>,
    pub quantity: f32,
    pub price: Option<f32>,
    /// Review rating (1–5) for `review` events.
    pub rating: Option<f32>,
    /// Offset into [`EventLog::devices`] (device + browser), when known.
    pub device: Option<u32>,
    /// An explicit interaction weight (ratings files, `kindred split` output); overrides the
    /// configured weight of the event type when present.
    pub weight: Option<f32>,
}

/// A batch of events with interned ids. Readers append to one of these.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    pub customers: IdMap,
    pub anonymous: IdMap,
    pub items: IdMap,
    pub devices: IdMap,
    pub events: Vec<Event>,
}

impl EventLog {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// One product of the catalog.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    pub item_id: String,
    pub title: String,
    /// A path such as `shoes/sneakers`.
    pub category: String,
    pub brand: Option<String>,
    pub color: Option<String>,
    pub price: Option<f64>,
    pub in_stock: bool,
    pub image_url: Option<String>,
    pub url: Option<String>,
}

impl Item {
    /// The first segment of the category path (`shoes` for `shoes/sneakers`).
    pub fn top_category(&self) -> &str {
        self.category.split('/').next().unwrap_or("")
    }
}

/// The catalog, in file order, with an id index.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub ids: IdMap,
    pub items: Vec<Item>,
}

impl Catalog {
    pub fn get(&self, item_id: &str) -> Option<&Item> {
        self.ids.get(item_id).map(|i| &self.items[i as usize])
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Links from anonymous visitor ids to the customer they later became.
#[derive(Debug, Clone, Default)]
pub struct IdentityLinks {
    /// `(anonymous_id, customer_id)` pairs in file order; a later link for the same
    /// anonymous id replaces an earlier one.
    pub links: Vec<(String, String)>,
}

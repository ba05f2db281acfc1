//! [`LandingPage::write_json`]: the page as JSON, written directly.
//!
//! A page is the largest answer kindred gives (some 40 items, 12 KB), and serde_json spent
//! about a sixth of its CPU in it, most of that escaping strings, the field names included,
//! byte by byte. Here the field names are literals and a string is copied as it is unless it
//! holds a byte that needs escaping (then serde_json escapes it). Numbers, `null`s and the
//! strategy names go through serde_json, so the output is byte for byte what
//! `serde_json::to_vec(&page)` writes; a test holds the two together.

use super::compose::{AnchorItem, CampaignOut, LandingItem, LandingPage, SlotOut, VisitorOut};
use crate::serving::SegmentRef;

impl LandingPage<'_> {
    /// Appends the page as JSON (the same bytes as its `Serialize` implementation gives).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"model_version\":");
        string(out, &self.model_version);
        out.extend_from_slice(b",\"page\":");
        string(out, &self.page);
        out.extend_from_slice(b",\"title\":");
        string(out, &self.title);
        out.extend_from_slice(b",\"visitor\":");
        visitor(out, &self.visitor);
        out.extend_from_slice(b",\"slots\":[");
        for (i, s) in self.slots.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            slot(out, s);
        }
        out.extend_from_slice(b"]}");
    }
}

/// Whether any byte of `s` must be escaped inside a JSON string: a control character, a
/// quote or a backslash. A fold without early exit, so that it compiles to vector compares.
fn needs_escape(s: &[u8]) -> bool {
    s.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Rare in a catalog: serde_json's escaping, exactly.
        value(out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Numbers, `null` and enum names, as serde_json writes them.
fn value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Writing into a Vec cannot fail, and these values have no map keys that could.
    let _ = serde_json::to_writer(&mut *out, v);
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn visitor(out: &mut Vec<u8>, v: &VisitorOut) {
    out.extend_from_slice(b"{\"id\":");
    string(out, &v.id);
    out.extend_from_slice(b",\"known\":");
    boolean(out, v.known);
    out.extend_from_slice(b",\"anonymous_fallback\":");
    boolean(out, v.anonymous_fallback);
    if let Some(n) = &v.notice {
        out.extend_from_slice(b",\"notice\":");
        string(out, n);
    }
    out.extend_from_slice(b",\"segment\":");
    match &v.segment {
        Some(s) => segment(out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn segment(out: &mut Vec<u8>, s: &SegmentRef) {
    out.extend_from_slice(b"{\"id\":");
    value(out, &s.id);
    out.extend_from_slice(b",\"name\":");
    string(out, &s.name);
    out.extend_from_slice(b",\"description\":");
    string(out, &s.description);
    out.push(b'}');
}

fn slot(out: &mut Vec<u8>, s: &SlotOut<'_>) {
    out.extend_from_slice(b"{\"id\":");
    string(out, &s.id);
    out.extend_from_slice(b",\"kind\":");
    value(out, &s.kind);
    out.extend_from_slice(b",\"title\":");
    string(out, &s.title);
    out.extend_from_slice(b",\"items\":[");
    for (i, it) in s.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, it);
    }
    out.push(b']');
    if let Some(c) = &s.campaign {
        out.extend_from_slice(b",\"campaign\":");
        campaign(out, c);
    }
    if let Some(a) = &s.anchor {
        out.extend_from_slice(b",\"anchor\":");
        anchor(out, a);
    }
    out.extend_from_slice(b",\"fallback_items\":");
    value(out, &s.fallback_items);
    out.push(b'}');
}

fn item(out: &mut Vec<u8>, it: &LandingItem<'_>) {
    out.extend_from_slice(b"{\"item_id\":");
    string(out, &it.item_id);
    out.extend_from_slice(b",\"title\":");
    string(out, &it.title);
    out.extend_from_slice(b",\"category\":");
    string(out, &it.category);
    out.extend_from_slice(b",\"price\":");
    value(out, &it.price);
    if let Some(p) = it.discounted_price {
        out.extend_from_slice(b",\"discounted_price\":");
        value(out, &p);
    }
    out.extend_from_slice(b",\"image_url\":");
    opt_string(out, it.image_url.as_deref());
    out.extend_from_slice(b",\"url\":");
    opt_string(out, it.url.as_deref());
    out.extend_from_slice(b",\"score\":");
    value(out, &it.score);
    out.extend_from_slice(b",\"reason\":");
    string(out, &it.reason);
    out.push(b'}');
}

fn campaign(out: &mut Vec<u8>, c: &CampaignOut) {
    out.extend_from_slice(b"{\"id\":");
    string(out, &c.id);
    out.extend_from_slice(b",\"headline\":");
    string(out, &c.headline);
    out.extend_from_slice(b",\"text\":");
    string(out, &c.text);
    out.extend_from_slice(b",\"discount_code\":");
    opt_string(out, c.discount_code.as_deref());
    out.extend_from_slice(b",\"discount_percent\":");
    value(out, &c.discount_percent);
    out.extend_from_slice(b",\"valid_from\":");
    opt_string(out, c.valid_from.as_deref());
    out.extend_from_slice(b",\"valid_until\":");
    opt_string(out, c.valid_until.as_deref());
    out.extend_from_slice(b",\"image_url\":");
    opt_string(out, c.image_url.as_deref());
    out.extend_from_slice(b",\"link\":");
    opt_string(out, c.link.as_deref());
    out.extend_from_slice(b",\"default\":");
    boolean(out, c.default);
    out.push(b'}');
}

fn anchor(out: &mut Vec<u8>, a: &AnchorItem) {
    out.extend_from_slice(b"{\"item_id\":");
    string(out, &a.item_id);
    out.extend_from_slice(b",\"title\":");
    string(out, &a.title);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::borrow::Cow;

    /// A page with every optional field both present and absent, and strings that need
    /// escaping.
    fn page() -> LandingPage<'static> {
        let item = |id: &'static str, discounted: Option<f64>, urls: bool| LandingItem {
            item_id: Cow::Borrowed(id),
            title: Cow::Borrowed("Blue \"Runner\" 42\\ \u{1} ünï"),
            category: Cow::Borrowed("shoes/sneakers"),
            price: Some(59.99),
            discounted_price: discounted,
            image_url: urls.then_some(Cow::Borrowed("https://x.example/i.jpg")),
            url: urls.then(|| Cow::Owned("https://x.example/p?a=1&b=2".to_owned())),
            score: 0.702_602_8,
            reason: "because you liked \"X\"\n".into(),
        };
        LandingPage {
            model_version: "v1".into(),
            page: "home".into(),
            title: "Home".into(),
            visitor: VisitorOut {
                id: "c-1".into(),
                known: true,
                anonymous_fallback: true,
                notice: Some("unknown customer \"c-9\"".into()),
                segment: Some(SegmentRef {
                    id: 3,
                    name: "Home lovers".into(),
                    description: "12.6% of all; prices +2%".into(),
                }),
            },
            slots: vec![
                SlotOut {
                    id: "hero".into(),
                    kind: super::super::config::Strategy::Hero,
                    title: "Make yourself at home".into(),
                    items: vec![item("sku-1", Some(52.79), true), item("sku-2", None, false)],
                    campaign: Some(CampaignOut {
                        id: "home".into(),
                        headline: "Make yourself at home".into(),
                        text: "12% off".into(),
                        discount_code: Some("HOME12".into()),
                        discount_percent: Some(12.0),
                        valid_from: Some("2026-01-01".into()),
                        valid_until: None,
                        image_url: None,
                        link: Some("/home".into()),
                        default: false,
                    }),
                    anchor: None,
                    fallback_items: 1,
                },
                SlotOut {
                    id: "because_you_viewed".into(),
                    kind: super::super::config::Strategy::BecauseYouViewed,
                    title: "Because you viewed X".into(),
                    items: vec![],
                    campaign: None,
                    anchor: Some(AnchorItem {
                        item_id: "sku-3".into(),
                        title: "X".into(),
                    }),
                    fallback_items: 0,
                },
            ],
        }
    }

    #[test]
    fn writes_the_same_bytes_as_serde_json() {
        let mut p = page();
        let mut out = Vec::new();
        p.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&p).unwrap()
        );
        // And with the optional parts absent.
        p.visitor.notice = None;
        p.visitor.segment = None;
        p.slots[0].items[0].price = None;
        p.slots[0].items[0].score = f32::NAN;
        let mut out = Vec::new();
        p.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&p).unwrap()
        );
    }
}

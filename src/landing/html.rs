//! Server-side HTML of a composed page and of the preview index: one self-contained
//! document each (inline CSS, no scripts, no external style sheets or fonts), for a marketer
//! to open in a browser. Every text from the catalog, the configuration or the request is
//! escaped with [`escape`]; item images come from the catalog's `image_url` when present.

use super::compose::{LandingItem, LandingPage, SlotOut};
use std::fmt::Write;

/// Escapes `s` for HTML text and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` as an attribute URL: escaped, and only `http(s)`, root-relative or relative links
/// (a `javascript:` URL from a catalog is dropped).
fn url_attr(s: &str) -> Option<String> {
    let lower = s.trim().to_ascii_lowercase();
    let safe = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with('/')
        || !lower.contains(':');
    safe.then(|| escape(s.trim()))
}

/// Percent-encodes one path segment or query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#222}
header.meta{background:#222;color:#eee;padding:.6rem 1.2rem;font-size:.85rem}
header.meta b{color:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem 1.2rem}
.notice{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem 1rem;border-radius:6px;margin:.6rem 0}
.hero{background:linear-gradient(120deg,#24415e,#3f7a8c);color:#fff;border-radius:10px;padding:1.6rem;margin:1rem 0}
.hero h1{margin:0 0 .4rem 0;font-size:1.8rem}
.hero .code{display:inline-block;background:#fff;color:#24415e;font-weight:700;padding:.25rem .6rem;border-radius:4px;margin-top:.6rem}
.hero .valid{font-size:.8rem;opacity:.85;margin-top:.4rem}
.hero img.banner{max-width:100%;border-radius:6px;margin-top:.6rem}
section.slot{margin:1.4rem 0}
section.slot h2{font-size:1.2rem;margin:.2rem 0 .6rem 0}
.kind{font-size:.7rem;color:#777;font-weight:400;margin-left:.5rem;text-transform:uppercase;letter-spacing:.05em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.8rem}
.card{background:#fff;border-radius:8px;padding:.6rem;box-shadow:0 1px 3px rgba(0,0,0,.08);font-size:.85rem}
.card a{color:inherit;text-decoration:none}
.card .img{width:100%;aspect-ratio:1/1;background:#e7e7e2;border-radius:6px;display:flex;align-items:center;justify-content:center;color:#999;font-size:.75rem;overflow:hidden}
.card .img img{width:100%;height:100%;object-fit:cover}
.card .t{font-weight:600;margin:.4rem 0 .2rem 0}
.card .c{color:#777;font-size:.75rem}
.card .p{margin-top:.3rem}
.card .old{text-decoration:line-through;color:#999;margin-right:.3rem}
.card .new{color:#b3261e;font-weight:700}
.card .r{color:#555;font-size:.75rem;margin-top:.3rem;font-style:italic}
.card .s{color:#aaa;font-size:.7rem}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #ddd;padding:.5rem;text-align:left;vertical-align:top;font-size:.9rem}
";

fn head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(
        out,
        "<title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    );
}

fn price(p: f64) -> String {
    format!("{p:.2}")
}

fn card(out: &mut String, it: &LandingItem) {
    out.push_str("<div class=\"card\">");
    let link = it.url.as_deref().and_then(url_attr);
    if let Some(href) = &link {
        let _ = write!(out, "<a href=\"{href}\">");
    }
    out.push_str("<div class=\"img\">");
    match it.image_url.as_deref().and_then(url_attr) {
        Some(src) => {
            let _ = write!(
                out,
                "<img src=\"{src}\" alt=\"{}\" loading=\"lazy\">",
                escape(&it.title)
            );
        }
        None => out.push_str("no image"),
    }
    out.push_str("</div>");
    let _ = write!(
        out,
        "<div class=\"t\">{}</div><div class=\"c\">{}</div>",
        escape(&it.title),
        escape(&it.category)
    );
    match (it.price, it.discounted_price) {
        (Some(p), Some(d)) => {
            let _ = write!(
                out,
                "<div class=\"p\"><span class=\"old\">{}</span><span class=\"new\">{}</span></div>",
                price(p),
                price(d)
            );
        }
        (Some(p), None) => {
            let _ = write!(out, "<div class=\"p\">{}</div>", price(p));
        }
        _ => {}
    }
    if link.is_some() {
        out.push_str("</a>");
    }
    let _ = write!(
        out,
        "<div class=\"r\">{}</div><div class=\"s\">{} · score {:.3}</div></div>",
        escape(&it.reason),
        escape(&it.item_id),
        it.score
    );
}

fn grid(out: &mut String, items: &[LandingItem]) {
    if items.is_empty() {
        return;
    }
    out.push_str("<div class=\"grid\">");
    for it in items {
        card(out, it);
    }
    out.push_str("</div>");
}

fn hero(out: &mut String, slot: &SlotOut) {
    out.push_str("<section class=\"hero\">");
    let _ = write!(out, "<h1>{}</h1>", escape(&slot.title));
    if let Some(c) = &slot.campaign {
        if !c.text.is_empty() {
            let _ = write!(out, "<p>{}</p>", escape(&c.text));
        }
        if let (Some(code), Some(pct)) = (&c.discount_code, c.discount_percent) {
            let _ = write!(
                out,
                "<div class=\"code\">{pct}% off with code {}</div>",
                escape(code)
            );
        }
        if c.valid_from.is_some() || c.valid_until.is_some() {
            let _ = write!(
                out,
                "<div class=\"valid\">valid {} – {}</div>",
                escape(c.valid_from.as_deref().unwrap_or("now")),
                escape(c.valid_until.as_deref().unwrap_or("further notice"))
            );
        }
        if let Some(src) = c.image_url.as_deref().and_then(url_attr) {
            let _ = write!(out, "<img class=\"banner\" src=\"{src}\" alt=\"\">");
        }
        let _ = write!(
            out,
            "<div class=\"valid\">campaign {}{}</div>",
            escape(&c.id),
            if c.default { " (default hero)" } else { "" }
        );
    }
    grid(out, &slot.items);
    out.push_str("</section>");
}

/// The page as a visitor would see it, with a strip of facts for the marketer on top.
pub fn render_page(page: &LandingPage) -> String {
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, &format!("{} · {}", page.title, page.visitor.id));
    let v = &page.visitor;
    let segment = match &v.segment {
        Some(s) => format!(
            "<b>{}</b> (segment {}) — {}",
            escape(&s.name),
            s.id,
            escape(&s.description)
        ),
        None => "no segment".to_owned(),
    };
    let _ = write!(
        out,
        "<header class=\"meta\">Preview of page <b>{}</b> for <b>{}</b> ({}) · {} · model {} · \
         <a style=\"color:#9cf\" href=\"/v1/landing-page/preview\">all segments</a></header><main>",
        escape(&page.page),
        escape(&v.id),
        if v.known {
            "known visitor"
        } else {
            "new visitor"
        },
        segment,
        escape(&page.model_version)
    );
    if let Some(n) = &v.notice {
        let _ = write!(out, "<div class=\"notice\">{}</div>", escape(n));
    }
    for slot in &page.slots {
        if slot.campaign.is_some() && slot.kind == super::config::Strategy::Hero {
            hero(&mut out, slot);
            continue;
        }
        let _ = write!(
            out,
            "<section class=\"slot\" id=\"{}\"><h2>{}<span class=\"kind\">{}{}</span></h2>",
            escape(&slot.id),
            escape(&slot.title),
            slot.kind.as_str(),
            if slot.fallback_items > 0 {
                format!(" · {} from fallback", slot.fallback_items)
            } else {
                String::new()
            }
        );
        if let Some(c) = &slot.campaign
            && let (Some(code), Some(pct)) = (&c.discount_code, c.discount_percent)
        {
            let _ = write!(out, "<p>{pct}% off with code <b>{}</b></p>", escape(code));
        }
        grid(&mut out, &slot.items);
        out.push_str("</section>");
    }
    out.push_str("</main></body></html>\n");
    out
}

/// One row of the preview index.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRow {
    pub segment_id: u32,
    pub name: String,
    pub description: String,
    pub size: usize,
    /// The campaign the segment sees now (id, headline), `None`: the default hero.
    pub campaign: Option<(String, String)>,
    /// A member with a long history, to preview the page for.
    pub sample_customer: Option<String>,
}

/// The preview index: every segment with its campaign and a link to a sample customer's
/// page.
pub fn render_index(model_version: &str, page: &str, rows: &[PreviewRow]) -> String {
    let mut out = String::with_capacity(8 * 1024);
    head(&mut out, "Landing page preview");
    let _ = write!(
        out,
        "<header class=\"meta\">Landing page preview · page <b>{}</b> · model {}</header><main>\
         <h1>Segments</h1><table><tr><th>segment</th><th>size</th><th>campaign</th><th>preview</th></tr>",
        escape(page),
        escape(model_version)
    );
    let page_q = encode_component(page);
    for r in rows {
        let campaign = match &r.campaign {
            Some((id, headline)) => format!(
                "{} <span class=\"kind\">{}</span>",
                escape(headline),
                escape(id)
            ),
            None => "default hero".to_owned(),
        };
        let link = match &r.sample_customer {
            Some(c) => format!(
                "<a href=\"/v1/landing-page/{}?page={page_q}\">{}</a>",
                encode_component(c),
                escape(c)
            ),
            None => "no customer".to_owned(),
        };
        let _ = write!(
            out,
            "<tr class=\"segment\"><td><b>{}</b> (segment {})<br><small>{}</small></td><td>{}</td><td>{campaign}</td><td>{link}</td></tr>",
            escape(&r.name),
            r.segment_id,
            escape(&r.description),
            r.size
        );
    }
    let _ = writeln!(
        out,
        "</table><p>A visitor nobody knows yet: <a href=\"/v1/landing-page/new-visitor?page={page_q}\">new-visitor</a></p></main></body></html>"
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn unsafe_urls_are_dropped_and_components_encoded() {
        assert_eq!(url_attr("javascript:alert(1)"), None);
        assert_eq!(
            url_attr("https://shop.example/p?a=1&b=2").unwrap(),
            "https://shop.example/p?a=1&amp;b=2"
        );
        assert_eq!(encode_component("c 1/é"), "c%201%2F%C3%A9");
    }
}

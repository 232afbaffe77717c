//! The phone reachability page: what the relay's port answers to a plain browser `GET`,
//! and how the doctor recognises it.
//!
//! The page lives here, on the pairing floor, rather than in the relay's listener, because
//! two sides must agree on it: the relay serves it (relay is above pairing, so it may use
//! this module) and the doctor's self-test, on this floor, must tell it apart from anything
//! else that answers on the port. [`CHECK_HEADER`] is that agreement.
//!
//! The page is self-contained (no script, no external resource: a phone on a LAN without
//! Internet must render it) and has a mobile viewport.

use std::net::{IpAddr, SocketAddr};

/// The path the QR code for the phone test carries. `/` works too.
pub const CHECK_PATH: &str = "/check";

/// Header the relay puts on its phone page, so the doctor knows it reached DG-LAB Hub and
/// not some other server on the same port.
pub const CHECK_HEADER: &str = "X-DGLAB-Hub";

/// Value of [`CHECK_HEADER`].
pub const CHECK_HEADER_VALUE: &str = "phone-check";

/// `http://host:port/check`: the address a phone's camera or browser opens to test that it
/// reaches the relay (the same host and port as the pairing URL's `ws://`).
pub fn phone_check_url(host: IpAddr, port: u16) -> String {
    // SocketAddr's Display brackets IPv6, as a URL needs.
    format!("http://{}{CHECK_PATH}", SocketAddr::new(host, port))
}

/// Whether a request path (query already removed) asks for the phone page: `/`, `/check`,
/// or `…/check` (a reverse proxy that keeps its path prefix). Never a terminal id, which is
/// the App's WebSocket path.
pub fn is_check_path(path: &str) -> bool {
    path == "/" || path == CHECK_PATH || path.ends_with(CHECK_PATH)
}

/// Language of the phone page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageLanguage {
    /// English, the default.
    En,
    /// 中文.
    Zh,
}

impl PageLanguage {
    /// The `lang` attribute and `Content-Language` value.
    pub fn tag(self) -> &'static str {
        match self {
            PageLanguage::En => "en",
            PageLanguage::Zh => "zh",
        }
    }
}

/// The phone's preferred language from its `Accept-Language` header: Chinese when the
/// language it prefers most is `zh…`, English otherwise (and without the header).
pub fn page_language(accept_language: Option<&str>) -> PageLanguage {
    let Some(header) = accept_language else {
        return PageLanguage::En;
    };
    // The first tag with the highest q wins; a malformed q counts as 1, a q of 0 never wins.
    let mut best: Option<(f32, &str)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        if tag.is_empty() {
            continue;
        }
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, tag));
        }
    }
    match best {
        Some((_, tag)) if tag.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("zh")) => {
            PageLanguage::Zh
        }
        _ => PageLanguage::En,
    }
}

/// The page's HTML in `lang`.
pub fn phone_page(lang: PageLanguage) -> String {
    let (title, headline, next, note) = match lang {
        PageLanguage::En => (
            "DG-LAB Hub: reachable",
            "Your phone can reach DG-LAB Hub",
            "Now scan the pairing code in the DG-LAB App (SOCKET control).",
            "This page only tests the connection; you can close it.",
        ),
        PageLanguage::Zh => (
            "DG-LAB Hub：连接正常",
            "你的手机可以连接到 DG-LAB Hub",
            "现在请在 DG-LAB App 中（SOCKET 控制）扫描配对二维码。",
            "此页面仅用于测试连接，可以关闭。",
        ),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:0;padding:2em 1.2em;background:#101418;color:#e8eef2;text-align:center}}\
         .ok{{font-size:4em;color:#3ecf8e;line-height:1}}h1{{font-size:1.5em}}p{{font-size:1.1em;line-height:1.5}}\
         .note{{color:#9aa7b0;font-size:.9em}}</style></head>\
         <body><div class=\"ok\">✓</div><h1>{headline}</h1><p>{next}</p><p class=\"note\">{note}</p></body></html>\n",
        lang = lang.tag()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_url_brackets_ipv6() {
        assert_eq!(
            phone_check_url("192.168.1.5".parse().unwrap(), 9999),
            "http://192.168.1.5:9999/check"
        );
        assert_eq!(
            phone_check_url("fd00::5".parse().unwrap(), 9999),
            "http://[fd00::5]:9999/check"
        );
    }

    #[test]
    fn check_paths_never_include_a_terminal_id() {
        assert!(is_check_path("/"));
        assert!(is_check_path("/check"));
        assert!(is_check_path("/dglab/check"));
        assert!(!is_check_path("/0b6e1c3a-2f5d-4c1e-9a7b-3d2e1f0a9b8c"));
        assert!(!is_check_path("/checks"));
        assert!(!is_check_path(""));
    }

    #[test]
    fn language_follows_the_most_preferred_tag() {
        assert_eq!(page_language(None), PageLanguage::En);
        assert_eq!(
            page_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            PageLanguage::Zh
        );
        assert_eq!(page_language(Some("ZH-tw")), PageLanguage::Zh);
        assert_eq!(
            page_language(Some("en-US,en;q=0.9,zh;q=0.8")),
            PageLanguage::En
        );
        assert_eq!(page_language(Some("en;q=0.5, zh;q=0.9")), PageLanguage::Zh);
        assert_eq!(page_language(Some("zh;q=0, de")), PageLanguage::En);
        assert_eq!(page_language(Some("")), PageLanguage::En);
        assert_eq!(page_language(Some("z")), PageLanguage::En);
    }

    #[test]
    fn page_is_self_contained_and_in_its_language() {
        let en = phone_page(PageLanguage::En);
        assert!(en.contains("Your phone can reach DG-LAB Hub"));
        assert!(en.contains("name=\"viewport\""));
        let zh = phone_page(PageLanguage::Zh);
        assert!(zh.contains("lang=\"zh\"") && zh.contains("扫描配对二维码"));
        for page in [en, zh] {
            assert!(!page.contains("http"), "no external resource: {page}");
            assert!(!page.contains("<script"));
        }
    }
}

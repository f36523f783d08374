//! The web page at `/`: plain HTML, CSS and JavaScript compiled into the binary, so a server
//! works offline and needs no build step or asset directory at run time.
//!
//! The page only calls the JSON API (`/api/...`); it keeps the reading list, the language and
//! the last visit in the browser's `localStorage`, so the server stays stateless per user.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

/// One embedded file: its URL path, body and content type.
struct Asset {
    path: &'static str,
    body: &'static str,
    content_type: &'static str,
}

/// Every file the page is made of. `index.html` names the others by these paths.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/assets/app.js",
        body: include_str!("assets/app.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        path: "/assets/i18n.js",
        body: include_str!("assets/i18n.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        path: "/assets/style.css",
        body: include_str!("assets/style.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        path: "/assets/icon.svg",
        body: include_str!("assets/icon.svg"),
        content_type: "image/svg+xml",
    },
];

const INDEX_HTML: &str = include_str!("assets/index.html");

/// The page's routes (`/` and its assets), merged into the server's router. `/favicon.ico` is
/// the icon too: a page without an icon link (a digest served by `/api/digest`) makes the
/// browser ask for it, and a 404 there is an error in its console.
pub fn routes() -> Router<AppState> {
    let icon = ASSETS
        .iter()
        .find(|a| a.path == "/assets/icon.svg")
        .expect("the icon is an asset");
    let page = Router::new()
        .route("/", get(index))
        .route("/favicon.ico", get(move || serve(icon)));
    ASSETS.iter().fold(page, |router, asset| {
        router.route(asset.path, get(move || serve(asset)))
    })
}

async fn index() -> impl IntoResponse {
    // The page is small and changes with the binary: always revalidate, so an upgraded server
    // never runs with a stale script from the browser's cache.
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
}

async fn serve(asset: &'static Asset) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every asset the HTML names is served, so the page never asks for a file that 404s.
    #[test]
    fn index_names_only_served_assets() {
        let named: Vec<&str> = INDEX_HTML
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/"))
            .collect();
        assert!(!named.is_empty(), "index.html names no asset");
        for path in named {
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "index.html names {path}, which is not served"
            );
        }
    }
}

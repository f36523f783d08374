//! The web page at `/`, served from the binary. (A placeholder until the page lands.)

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::AppState;

/// The page's routes (`/` and its assets), merged into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>paperscope</title></head>\
         <body><h1>paperscope</h1><p>The API is at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p></body></html>",
    )
}

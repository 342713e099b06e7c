//! GraphiQL at `GET /graphql`, with every script and style served by this server (see
//! `build.rs`): it works without internet, and its CSP allows nothing from elsewhere.

use poem::{
    IntoResponse, Response, handler,
    http::{StatusCode, header},
    web::{Html, Path},
};

/// Scripts and styles from this server only; GraphiQL's editors add `<style>` elements at run
/// time, hence `'unsafe-inline'` for styles (never for scripts). Nothing may frame it.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
    font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'";

/// (name, content type, bytes).
const ASSETS: [(&str, &str, &[u8]); 6] = [
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/react.production.min.js")),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/react-dom.production.min.js")),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/graphiql.min.js")),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql/graphiql.min.css")),
    ),
    ("page.css", "text/css; charset=utf-8", include_bytes!("page.css")),
    ("start.js", "text/javascript; charset=utf-8", include_bytes!("start.js")),
];

#[handler]
pub async fn page() -> Response {
    Html(include_str!("page.html")).with_header(header::CONTENT_SECURITY_POLICY, CSP).into_response()
}

/// `GET /graphql/assets/:name`: the bundles do not change within a build, so browsers may
/// keep them for a day.
#[handler]
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => Response::builder()
            .content_type(*content_type)
            .header(header::CACHE_CONTROL, "public, max-age=86400")
            .header(header::CONTENT_SECURITY_POLICY, CSP)
            .body(*bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

//! `/openapi.json`: an OpenAPI 3 document generated from the handlers' annotations and
//! the types they read and write.

use utoipa::OpenApi;

use crate::routes::{clients, data, health, jobs, ml, portfolio, trading};
use crate::timing::TimingHeaders;

/// The OpenAPI document from a route list, for `platform_routes!`.
macro_rules! api_doc {
    ($($method:ident $path:literal => $area:ident :: $handler:ident,)*) => {
        /// The OpenAPI description of the platform and admin routes.
        #[derive(Debug, OpenApi)]
        #[openapi(
            info(title = "ACIS platform (mock-api)", description = "An imitation of the ACIS AI trading platform with configurable latency and failures per route."),
            paths(
                $($area::$handler,)*
                crate::admin::get_profile, crate::admin::put_profile, crate::admin::get_stats, crate::admin::reset_stats, crate::admin::post_stall, crate::admin::get_requests,
            ),
            components(schemas(crate::error::ErrorBody)),
            modifiers(&DeclaredErrors, &TimingHeaders),
            tags(
                (name = "clients", description = "Clients and portfolios"),
                (name = "ml", description = "Predictions and model training"),
                (name = "portfolio", description = "Optimisation and rebalancing"),
                (name = "trading", description = "Trade execution and history"),
                (name = "data", description = "Historical market data"),
                (name = "jobs", description = "Background jobs"),
                (name = "health", description = "Liveness"),
                (name = "admin", description = "The mock's own control API"),
            )
        )]
        pub(crate) struct ApiDoc;
    };
}

crate::route_table::platform_routes!(api_doc);

/// Declares on every operation the errors the router answers before or around its
/// handler, in the JSON error shape: a body that is not JSON, too large or unreadable
/// (400, 413, 415, 422); a path or query value that does not parse (422); and on the
/// platform's routes, the failures and refusals a profile injects (429, 500, 503).
struct DeclaredErrors;

impl utoipa::Modify for DeclaredErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let platform = !path.starts_with("/admin");
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let mut codes: Vec<(&str, &str)> = Vec::new();
                if op.request_body.is_some() {
                    codes.extend([
                        (
                            "400",
                            "The body is not well-formed (JSON syntax, Content-Length)",
                        ),
                        ("413", "The body is over the size limit"),
                        ("415", "The body's Content-Type is not the one documented"),
                        ("422", "A field is missing or invalid"),
                    ]);
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    codes.push(("422", "A path or query parameter is invalid"));
                }
                if platform {
                    codes.extend([
                        (
                            "429",
                            "Rate limited by the profile's capacity (Retry-After)",
                        ),
                        ("500", "A failure injected by the profile"),
                        (
                            "503",
                            "A failure injected by the profile, or its capacity is full",
                        ),
                    ]);
                }
                for (code, description) in codes {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

/// A response with the JSON error body.
fn error_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::response::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// `GET /openapi.json`.
pub(crate) async fn handler() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

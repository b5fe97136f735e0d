//! `/openapi.json`: an OpenAPI 3 document generated from the handlers' annotations and
//! the types they read and write.

use utoipa::OpenApi;

use crate::routes::{clients, data, health, jobs, ml, portfolio, trading};

/// The OpenAPI document from a route list, for `platform_routes!`.
macro_rules! api_doc {
    ($($method:ident $path:literal => $area:ident :: $handler:ident,)*) => {
        /// The OpenAPI description of the platform and admin routes.
        #[derive(Debug, OpenApi)]
        #[openapi(
            info(title = "ACIS platform (mock-api)", description = "An imitation of the ACIS AI trading platform with configurable latency and failures per route."),
            paths(
                $($area::$handler,)*
                crate::admin::get_profile, crate::admin::put_profile, crate::admin::get_stats, crate::admin::reset_stats, crate::admin::post_stall,
            ),
            components(schemas(crate::error::ErrorBody)),
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

/// `GET /openapi.json`.
pub(crate) async fn handler() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

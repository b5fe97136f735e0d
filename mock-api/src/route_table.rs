//! The platform's routes, each declared once: method, path template and handler. The
//! rest is derived from this one list by handing it to a macro: the profile's route keys
//! (`profile::ROUTES`), the router (`routes::platform`) and the OpenAPI document's paths
//! (`openapi::ApiDoc`; each handler's `#[utoipa::path]` describes its parameters and
//! answers, and a test holds its method and path to this list).
//!
//! The list is a macro rather than a value so that the profile, which only needs the
//! keys, does not import the handlers (which import the state, which imports the
//! profile).

/// Calls `$then!` with every platform route as `METHOD "/path" => area::handler,`, in the
/// order profiles list them.
macro_rules! platform_routes {
    ($then:ident) => {
        $then! {
            GET "/health" => health::health,
            GET "/api/clients" => clients::list_clients,
            GET "/api/clients/{client_id}" => clients::get_client,
            GET "/api/clients/{client_id}/portfolio" => clients::get_portfolio,
            GET "/api/ml/predict" => ml::predict,
            GET "/api/ml/performance" => ml::performance,
            POST "/api/ml/train" => ml::train,
            GET "/api/portfolio/optimize/{client_id}" => portfolio::optimize,
            POST "/api/portfolio/rebalance/{client_id}" => portfolio::rebalance,
            POST "/api/trading/execute" => trading::execute,
            GET "/api/trading/history/{client_id}" => trading::history,
            GET "/api/data/historical" => data::historical,
            GET "/api/jobs/{job_id}" => jobs::get_job,
        }
    };
}

pub(crate) use platform_routes;

/// The route keys (`GET /health`) of a route list, for `platform_routes!`.
macro_rules! route_keys {
    ($($method:ident $path:literal => $area:ident :: $handler:ident,)*) => {
        /// The route templates a profile can configure, as "METHOD /path" (axum 0.8
        /// syntax), in the route table's order.
        pub const ROUTES: &[&str] = &[$(concat!(stringify!($method), " ", $path)),*];
    };
}

pub(crate) use route_keys;

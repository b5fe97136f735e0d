//! The platform's routes, one module per area, and the router that serves them, built
//! from the one route table (`crate::route_table`), so each route has a behaviour in
//! every profile.

pub(crate) mod clients;
pub(crate) mod data;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod ml;
pub(crate) mod portfolio;
pub(crate) mod trading;
pub(crate) mod whole;

use axum::routing::MethodFilter;
use axum::Router;

use crate::state::AppState;

/// The platform's router from a route list, for `platform_routes!`.
macro_rules! platform_router {
    ($($method:ident $path:literal => $area:ident :: $handler:ident,)*) => {
        /// The platform's routes (without the behaviour layer).
        pub(crate) fn platform() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::on(MethodFilter::$method, $area::$handler)))*
        }
    };
}

crate::route_table::platform_routes!(platform_router);

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;

    /// Each handler's OpenAPI annotation names the method and path the table routes it
    /// under, so the document cannot drift from the router.
    #[test]
    fn every_annotation_matches_its_route() {
        let doc = crate::openapi::ApiDoc::openapi();
        for key in crate::profile::ROUTES {
            let (method, path) = key.split_once(' ').unwrap();
            let item = doc
                .paths
                .paths
                .get(path)
                .unwrap_or_else(|| panic!("{key}: no path"));
            let operation = match method {
                "GET" => item.get.as_ref(),
                "POST" => item.post.as_ref(),
                other => panic!("{key}: method {other} not in the test"),
            };
            assert!(
                operation.is_some(),
                "{key}: the annotation has another method"
            );
        }
        let documented: usize = doc
            .paths
            .paths
            .iter()
            .filter(|(p, _)| !p.starts_with("/admin"))
            .map(|(_, i)| usize::from(i.get.is_some()) + usize::from(i.post.is_some()))
            .sum();
        assert_eq!(documented, crate::profile::ROUTES.len());
    }
}

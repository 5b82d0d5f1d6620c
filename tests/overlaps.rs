//! Folders routes must not share, refused by `check` (and so by `run` and `once`) with the paths
//! compared after resolution; an archive inside an inbox is only warned about.

mod support;

use support::*;

/// `check`'s exit code and everything it said.
fn check(routes: &str) -> (i32, String) {
    let sandbox = Sandbox::with_routes(routes);
    std::os::unix::fs::symlink(sandbox.path("cart"), sandbox.path("cart-link")).unwrap();
    let out = sandbox.cmd(&["check"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), said)
}

fn route(name: &str, from: &str, pattern: &str, to: &str, extra: &str) -> String {
    format!(
        r#"
[[routes]]
name = "{name}"
from = {{ endpoint = "cart", dir = "{from}", pattern = "{pattern}" }}
reader = "passthrough"
writer = "passthrough"
to = {{ endpoint = "warehouse", dir = "{to}", name = "{{name}}" }}
{extra}
"#
    )
}

#[test]
fn an_error_folder_that_is_an_inbox_is_refused_even_spelt_another_way() {
    // The sandbox's `cart-link` is a link to `cart`; `errors` reaches the inbox through it.
    let (code, said) = check(&route(
        "files",
        "out",
        "*",
        "in",
        "errors = \"cart-link/./x/../out\"",
    ));
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("routes[0].errors") && said.contains("is the inbox of route files"),
        "{said}"
    );
}

#[test]
fn a_route_delivering_into_its_own_inbox_is_refused() {
    let routes = r#"
[[routes]]
name = "circle"
from = { endpoint = "cart", dir = "out", pattern = "*.csv" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "cart", dir = "out", name = "{stem}.txt" }
"#;
    let (code, said) = check(routes);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("routes[0].to.dir") && said.contains("delivers into its own inbox"),
        "{said}"
    );
}

#[test]
fn two_routes_taking_the_same_names_from_one_inbox_are_refused_but_not_disjoint_patterns() {
    let same = route("a", "out", "*.csv", "in", "") + &route("b", "out", "orders-*.csv", "in2", "");
    let (code, said) = check(&same);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("routes[1].from") && said.contains("routes a and b both take names like"),
        "{said}"
    );
    let disjoint = route("a", "out", "*.945", "in", "") + &route("b", "out", "*.846", "in2", "");
    let (code, said) = check(&disjoint);
    assert_eq!(code, 0, "{said}");
}

#[test]
fn routes_feeding_each_other_in_a_loop_are_refused() {
    let routes = r#"
[[routes]]
name = "there"
from = { endpoint = "cart", dir = "out", pattern = "*.csv" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "in", name = "{name}" }

[[routes]]
name = "back"
from = { endpoint = "warehouse", dir = "in", pattern = "*" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "cart-again", dir = "out", name = "{stem}.csv" }

[endpoints.cart-again]
kind = "local"
root = "cart-link"
"#;
    let (code, said) = check(routes);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("routes there → back → there feed each other in a loop"),
        "{said}"
    );

    // The same folders, but "back" delivers names "there" does not take: no loop.
    let (code, said) = check(&routes.replace("name = \"{stem}.csv\"", "name = \"{stem}.done\""));
    assert_eq!(code, 0, "{said}");
}

#[test]
fn an_archive_inside_an_inbox_is_only_a_warning() {
    let (code, said) = check(&route(
        "files",
        "out",
        "*",
        "in",
        "archive = \"cart/out/archive\"",
    ));
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("warn  routes[0].archive") && said.contains("overlap"),
        "{said}"
    );
}

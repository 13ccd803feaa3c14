//! `GET /openapi.json`: the served document is the one the code generates, it is OpenAPI 3, and
//! every operation it describes reaches a handler of the running server (the converse, that
//! every route is documented, is `commerce_http::openapi`'s unit test).

use crate::helpers::{spawn_app, Backend};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// A value for each path parameter that the router accepts (handlers may still answer 404).
fn sample(parameter: &str) -> &'static str {
    match parameter {
        "sku" => "SKU-1",
        "actor_type" => "cart",
        _ => "00000000-0000-0000-0000-000000000001",
    }
}

fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(parameter) => sample(parameter).to_owned(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_is_generated_and_every_operation_is_routed() {
    let app = spawn_app(Backend::Sqlite).await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    let generated =
        serde_json::to_value(commerce_http::openapi::document()).expect("the document serializes");
    assert_eq!(reply.body, generated);
    let doc = reply.body;
    assert!(doc["openapi"]
        .as_str()
        .unwrap_or_default()
        .starts_with("3."));

    let mut operations = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS.into_iter().filter(|m| item.get(*m).is_some()) {
            operations += 1;
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .expect("an HTTP method");
            let request = app
                .client
                .request(method.clone(), app.url(&concrete(template)))
                .header("content-type", "application/json")
                .body("{}");
            let answer = app.send(request).await;
            let fallback = (answer.status == 404
                && answer.body["detail"] == "no resource at this path")
                || answer.code() == "method_not_allowed";
            assert!(
                !fallback,
                "{method} {template} is documented but not routed: {answer:?}"
            );
            assert!(answer.status < 500, "{method} {template}: {answer:?}");
        }
    }
    // The API had 29 operations when this test was written; fewer means some left the document.
    assert!(operations >= 29, "only {operations} operations documented");
    app.stop().await;
}

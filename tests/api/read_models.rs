//! The read-model routes on the real server: mounted, wired to the store's read models by the
//! bootstrap, and strict about their query parameters, and only for the token's own customer. (Their content is tested with orders in
//! the `relay` crate's pipeline tests, through the same router.)

use crate::helpers::TestApp;

crate::both_stores! {
    read_model_routes_answer_on_the_real_server => read_model_routes_answer_on_the_real_server;
}

async fn read_model_routes_answer_on_the_real_server(app: TestApp) {
    let (token, customer) = app.shopper("reader@example.com").await;
    let (_, other) = app.shopper("other@example.com").await;
    let orders = app
        .get_as(&token, &format!("/v1/customers/{customer}/orders"))
        .await;
    assert_eq!(orders.status, 200, "{orders:?}");
    assert_eq!(orders.body["orders"], serde_json::json!([]));
    assert!(orders.body["next_cursor"].is_null());
    let notes = app
        .get_as(
            &token,
            &format!("/v1/customers/{customer}/notifications?limit=5"),
        )
        .await;
    assert_eq!(notes.status, 200, "{notes:?}");
    assert_eq!(notes.body["notifications"], serde_json::json!([]));
    for bad in ["cursor=nonsense", "limit=0", "limit=101", "colour=blue"] {
        let reply = app
            .get_as(&token, &format!("/v1/customers/{customer}/orders?{bad}"))
            .await;
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert_eq!(reply.code(), "invalid_query");
    }
    for path in ["orders", "notifications"] {
        // Someone else's id, or no id at all, is not confirmed to exist: 404, as for no one.
        for id in [other.as_str(), "nobody"] {
            let reply = app
                .get_as(&token, &format!("/v1/customers/{id}/{path}"))
                .await;
            assert_eq!(
                (reply.status, reply.code()),
                (404, "not_found"),
                "{id}/{path}"
            );
        }
        // Without a token there is no customer to answer for.
        let anonymous = app.get(&format!("/v1/customers/{customer}/{path}")).await;
        assert_eq!(
            (anonymous.status, anonymous.code()),
            (401, "unauthorized"),
            "{path}"
        );
    }
    app.stop().await;
}

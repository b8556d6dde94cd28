//! The status page (issue 15) in a real browser: a headless Chromium (`tests/browser`) signs in
//! through the login form of a gateway running against a devnet, and the test checks what the
//! page shows against the gateway's own answers (accounts and their health, swarms, onion
//! paths, a webhook's queue and its failures), that the page redraws itself (an account created
//! afterwards appears without a reload), and saves a screenshot whose path it prints. Without
//! Chromium on `PATH` the browser test is skipped with a message (CI installs it, `.ci/run`).
//! The page's access rules are checked over plain HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod browser;
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use serde_json::{json, Value};

/// Waits until the account's health was written (every 5 s by its replica) and shows a swarm.
async fn polled(gw: &gs::Gw, account: &str) -> Value {
    common::eventually(60, "the account's first health flush", || async {
        let r = gw
            .admin("GET", &format!("/v1/accounts/{account}"), None)
            .await;
        let health = r.body["health"].clone();
        (!health["last_poll_at"].is_null() && !health["swarm"].as_array()?.is_empty())
            .then_some(health)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_gateway_in_a_browser() {
    let Some(chromium) = browser::find() else {
        eprintln!(
            "SKIPPED: the status page browser test needs Chromium (`apt-get install chromium`; \
             .ci/run installs it) and none is on PATH"
        );
        return;
    };
    let (devnet, _dir, gw) = gs::chat::on_devnet().await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    // A webhook whose receiver is down: its queue grows and its attempts fail.
    gw.webhook(
        "http://127.0.0.1:9/hook",
        &["message.received", "message.sent"],
    )
    .await;
    gw.send(&a, &b, "hello").await;
    gw.received(&b, &a, "hello").await;
    let health_a = polled(&gw, &a).await;
    polled(&gw, &b).await;
    let hook = gw.admin("GET", "/v1/webhooks", None).await.body["webhooks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::eventually(30, "a failed delivery attempt", || async {
        let r = gw
            .admin("GET", &format!("/v1/webhooks/{hook}/deliveries"), None)
            .await;
        r.body["deliveries"]
            .as_array()?
            .iter()
            .any(|d| !d["last_error"].is_null())
            .then_some(())
    })
    .await;

    let base = gw.base.clone();
    let page = tokio::task::block_in_place(|| {
        let mut browser = browser::Browser::launch(&chromium);
        // Signed out: the login form. Sign in with the admin key, as a person would.
        browser.navigate(&format!("{base}/"));
        browser.wait_for(
            20,
            "the login form",
            "document.querySelector('input[name=key]') !== null",
        );
        browser.eval(&format!(
            "document.querySelector('input[name=key]').value = {}; \
             document.querySelector('form').submit(); true",
            json!(common::ADMIN_KEY)
        ));
        browser.wait_for(
            30,
            "the page's first refresh",
            "document.querySelectorAll('tr[data-account]').length === 2 && \
             Number(document.getElementById('refreshes').textContent) >= 1",
        );
        read_page(&mut browser)
    });

    // The accounts, with their health and swarm, as the API shows them.
    let rows = page["accounts"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [a.as_str(), b.as_str()], "{page}");
    for row in rows {
        assert_eq!(row["health"], "ok", "{page}");
        assert_eq!(row["status"], "active");
        assert!(row["poll"].as_str().unwrap().ends_with("ago"), "{page}");
    }
    let swarm = health_a["swarm"].as_array().unwrap();
    assert_eq!(rows[0]["swarm"], format!("{} nodes", swarm.len()));
    let members: Vec<&str> = swarm.iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(rows[0]["swarm_title"], members.join("\n"));
    assert_eq!(page["acc_total"], "2");
    assert_eq!(page["acc_stale"], "0");
    // This replica's onion paths: the count in the summary is one row per path, each with a
    // guard and two relays.
    let paths: usize = page["net_paths"].as_str().unwrap().parse().unwrap();
    assert!(paths >= 1, "{page}");
    assert_eq!(page["path_rows"], json!(paths));
    assert_eq!(page["net_usable"], "usable");
    // The webhook's queue and its failed attempts.
    let hooks = page["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["id"], hook.as_str());
    assert!(
        hooks[0]["pending"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1,
        "{page}"
    );
    assert!(!hooks[0]["error"].as_str().unwrap().is_empty(), "{page}");
    let failures = page["failures"].as_array().unwrap();
    assert!(
        failures
            .iter()
            .any(|f| f["kind"] == "delivery" && f["subject"] == hook.as_str()),
        "{page}"
    );

    // It redraws itself: an account created now appears without a reload.
    let c = gw.create_account().await;
    let shot =
        std::env::temp_dir().join(format!("session-gateway-status-{}.png", std::process::id()));
    tokio::task::block_in_place(|| {
        let mut browser = browser::Browser::launch(&chromium);
        // A fresh browser, signed in through the form again.
        browser.navigate(&format!("{base}/"));
        browser.wait_for(
            20,
            "the login form",
            "document.querySelector('input[name=key]') !== null",
        );
        browser.eval(&format!(
            "document.querySelector('input[name=key]').value = {}; \
             document.querySelector('form').submit(); true",
            json!(common::ADMIN_KEY)
        ));
        browser.wait_for(
            30,
            "the page",
            "document.querySelectorAll('tr[data-account]').length >= 3",
        );
        let before: u64 = browser
            .eval("Number(document.getElementById('refreshes').textContent)")
            .as_u64()
            .unwrap();
        browser.wait_for(
            30,
            "a later refresh",
            &format!("Number(document.getElementById('refreshes').textContent) > {before}"),
        );
        assert!(read_page(&mut browser)["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == c.as_str()));
        browser.screenshot(&shot);
    });
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    println!("status page screenshot: {}", shot.display());
    drop(gw);
    devnet.shutdown().await;
}

/// What the page shows, read from its DOM.
fn read_page(browser: &mut browser::Browser) -> Value {
    browser.eval(
        r#"(() => {
            const text = (root, sel) => { const e = root.querySelector(sel); return e ? e.textContent : null; };
            const byId = (id) => document.getElementById(id).textContent;
            return {
                accounts: [...document.querySelectorAll('tr[data-account]')].map((r) => ({
                    id: r.dataset.account, status: text(r, '.status'), health: text(r, '.health'),
                    poll: text(r, '.poll'), swarm: text(r, '.swarm'),
                    swarm_title: r.querySelector('.swarm').title, replica: text(r, '.replica') })),
                webhooks: [...document.querySelectorAll('tr[data-webhook]')].map((r) => ({
                    id: r.dataset.webhook, pending: text(r, '.pending'), error: text(r, '.error') })),
                failures: [...document.querySelectorAll('tr[data-kind]')].map((r) => ({
                    kind: r.dataset.kind, subject: text(r, '.subject') })),
                path_rows: document.querySelectorAll('tr[data-path]').length,
                acc_total: byId('acc-total'), acc_stale: byId('acc-stale'),
                net_paths: byId('net-paths'), net_usable: byId('net-usable'),
            };
        })()"#,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_needs_an_admin_key() {
    let gw = common::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", gw.base);
    // Signed out: the login form; the data is refused.
    let r = client.get(url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("name=\"key\""));
    assert_eq!(
        client
            .get(url("/status.json"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // A wrong key, and a key without the admin scope, are refused; no cookie.
    let r = client
        .post(url("/login"))
        .form(&[("key", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    let scoped = gw
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({"scopes": [format!("accounts:05{}:read", "a".repeat(64))]})),
        )
        .await;
    let scoped = scoped.body["key"].as_str().unwrap().to_owned();
    let r = client
        .post(url("/login"))
        .form(&[("key", scoped.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The admin key signs in: an HttpOnly, SameSite=Strict cookie that opens the data.
    let r = client
        .post(url("/login"))
        .form(&[("key", common::ADMIN_KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(common::ADMIN_KEY),
        "the cookie never holds the key"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let r = client
        .get(url("/status.json"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["accounts_total"], 0);
    assert!(status["network"].is_null(), "no actors in this gateway");
    let r = client
        .get(url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("id=\"accounts\""));
    // A tampered cookie is no session.
    let forged = format!("{}x", session);
    let r = client
        .get(url("/status.json"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The bearer header works too, and an admin-scoped API key's session ends with the key.
    let r = client
        .get(url("/status.json"))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let admin = gw
        .admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]})))
        .await;
    let (id, key) = (
        admin.body["id"].as_str().unwrap(),
        admin.body["key"].as_str().unwrap(),
    );
    let r = client
        .post(url("/login"))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    let session = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let r = client
        .get(url("/status.json"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    gw.admin("DELETE", &format!("/v1/api-keys/{id}"), None)
        .await;
    let r = client
        .get(url("/status.json"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Signing out clears the cookie.
    let r = client.post(url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

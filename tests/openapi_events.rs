//! The event types agree everywhere they are listed: the README's event table, `EventType::ALL`
//! and `/openapi.json` (the `WebhookEvent` schema, one entry per type, each with a data schema).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::spawn;
use serde_json::Value;
use session_gateway::store::events::EventType;

/// The backticked type names in the first column of README.md's event table.
fn readme_types() -> BTreeSet<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("Events (webhook `events` filter values)")
        .expect("README has the event table");
    let mut types = BTreeSet::new();
    let rows = readme[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2); // header and separator
    for row in rows {
        let first = row.split('|').nth(1).unwrap();
        for name in first.split('`').skip(1).step_by(2) {
            types.insert(name.to_owned());
        }
    }
    types
}

both_backends! {
    async fn event_types_agree_between_readme_code_and_openapi() {
        let code: BTreeSet<String> = EventType::ALL.iter().map(|t| t.as_str().to_owned()).collect();
        assert_eq!(readme_types(), code, "README event table vs EventType::ALL");

        let gw = spawn().await;
        let doc = gw.call("GET", "/openapi.json", None, None).await;
        assert_eq!(doc.status, 200);
        let schemas = doc.body["components"]["schemas"].as_object().unwrap();
        let variants = schemas["WebhookEvent"]["oneOf"].as_array().unwrap();
        let mut documented = BTreeSet::new();
        for variant in variants {
            let names = variant["properties"]["type"]["enum"].as_array().unwrap();
            assert_eq!(names.len(), 1, "{variant}");
            let name = names[0].as_str().unwrap().to_owned();
            let data = variant["properties"]["data"]["$ref"].as_str().unwrap();
            let component = data.strip_prefix("#/components/schemas/").unwrap();
            let schema: &Value = schemas
                .get(component)
                .unwrap_or_else(|| panic!("{name}: data schema {component} is not a component"));
            assert!(schema.is_object(), "{name}: {schema}");
            assert!(documented.insert(name.clone()), "{name} documented twice");
        }
        assert_eq!(documented, code, "/openapi.json WebhookEvent vs EventType::ALL");
    }
}

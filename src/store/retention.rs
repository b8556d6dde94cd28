//! What stays after deletion (issue 13, attack 8). A message's text and file names are copied
//! into the bodies of its events (`message.*`, `attachment.*`) and into the quotes of replies;
//! when the message is unsent, deleted or expires, those copies are redacted with it, and its
//! attachment bytes are dropped. Events are otherwise kept (a consumer resuming from a cursor
//! still sees that a message existed, and its id); an account's events go with the account
//! ([`crate::store::Store::delete_account`]).

use serde_json::Value;
use sqlx::Row as _;

use super::{StoreError, StoreTx};
use crate::events::EventType;

/// The message whose content an event body carries, if any (`events.message_id`).
pub(crate) fn content_of(event_type: EventType, body: &Value) -> Option<String> {
    let key = match event_type {
        EventType::MessageReceived
        | EventType::MessageSent
        | EventType::MessageFailed
        | EventType::MessageRead => "id",
        EventType::AttachmentAvailable | EventType::AttachmentFailed => "message_id",
        _ => return None,
    };
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `body` without the message's content: text emptied, quote text, attachments and file
/// name dropped, and `"redacted": true` added (ids, parties and times stay).
pub fn redact_body(body: &mut Value) {
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    if fields.contains_key("text") {
        fields.insert("text".into(), Value::String(String::new()));
    }
    if let Some(Value::Object(quote)) = fields.get_mut("quote") {
        quote.insert("text".into(), Value::Null);
    }
    if fields.contains_key("attachments") {
        fields.insert("attachments".into(), Value::Array(Vec::new()));
    }
    if fields.contains_key("file_name") {
        fields.insert("file_name".into(), Value::Null);
    }
    fields.insert("redacted".into(), Value::Bool(true));
}

/// A reply's body with the quoted text dropped.
fn drop_quote_text(body: &mut Value) {
    if let Some(Value::Object(quote)) = body.get_mut("quote") {
        quote.insert("text".into(), Value::Null);
    }
}

impl StoreTx {
    /// Removes what message `id` leaves behind elsewhere: its events' bodies are redacted,
    /// its attachments (bytes, names, keys) deleted, and the text quoted from it by replies
    /// (rows and events) dropped. Called with every unsend, deletion and expiry.
    pub(crate) async fn forget_message_content(&mut self, id: &str) -> Result<(), StoreError> {
        self.rewrite_events("message_id = $1", id, redact_body)
            .await?;
        sqlx::query("DELETE FROM attachments WHERE message_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        self.rewrite_events(
            "message_id IN (SELECT id FROM messages WHERE quote_id = $1 AND quote_text IS NOT NULL)",
            id,
            drop_quote_text,
        )
        .await?;
        sqlx::query("UPDATE messages SET quote_text = NULL WHERE quote_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Rewrites the body of every event matching `filter` (one `$1` parameter, `id`).
    async fn rewrite_events(
        &mut self,
        filter: &str,
        id: &str,
        rewrite: fn(&mut Value),
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(&format!("SELECT cursor, data FROM events WHERE {filter}"))
            .bind(id)
            .fetch_all(self.conn())
            .await?;
        for row in rows {
            let cursor: i64 = row.try_get("cursor")?;
            let text: String = row.try_get("data")?;
            let Ok(mut body) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            rewrite(&mut body);
            sqlx::query("UPDATE events SET data = $1 WHERE cursor = $2")
                .bind(super::to_json(&body)?)
                .bind(cursor)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Deletes `account`'s events and their webhook deliveries (with the account).
    pub(crate) async fn delete_account_events(&mut self, account: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE event_cursor IN \
             (SELECT cursor FROM events WHERE account = $1)",
        )
        .bind(account)
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM events WHERE account = $1")
            .bind(account)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_redacted_body_keeps_ids_and_loses_content() {
        let mut body = json!({"id": "msg_1", "text": "secret", "from": "05aa",
            "quote": {"id": "msg_0", "text": "older secret"},
            "attachments": [{"file_name": "x.pdf"}]});
        redact_body(&mut body);
        assert_eq!(
            body,
            json!({"id": "msg_1", "text": "", "from": "05aa",
                "quote": {"id": "msg_0", "text": null}, "attachments": [], "redacted": true})
        );
        let mut file = json!({"id": "att_1", "message_id": "msg_1", "file_name": "x.pdf"});
        redact_body(&mut file);
        assert_eq!(file["file_name"], Value::Null);
        assert_eq!(
            content_of(EventType::AttachmentAvailable, &file).as_deref(),
            Some("msg_1")
        );
    }
}

//! Compiles our own `.proto` files (written from the field tables in
//! `../shared/protocol/messages.md` §3) with protox, so no `protoc` binary is needed.
//!
//! Every generated message also derives `serde::Serialize` for the CLI's JSON view of a decoded
//! message (`protocol::protos::json`): absent optional and empty repeated fields are skipped,
//! `bytes` fields serialise as base64 and enum fields by their proto name. The per-field
//! attributes are derived here from the descriptors, so the schema stays the single source.

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// Where the serde helpers live (absolute paths: generated code sits in nested modules).
const JSON: &str = "crate::protocol::protos::json";
const PROTOS: &str = "crate::protocol::protos";

fn main() {
    let protos: Vec<_> = std::fs::read_dir("proto")
        .map(|dir| {
            dir.filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
                .collect()
        })
        .unwrap_or_default();
    println!("cargo:rerun-if-changed=proto");
    // `sqlx::migrate!` embeds migrations/ at compile time; rebuild when a migration is added.
    println!("cargo:rerun-if-changed=migrations");
    if protos.is_empty() {
        return;
    }
    let descriptors = match protox::compile(&protos, ["proto"]) {
        Ok(descriptors) => descriptors,
        Err(error) => panic!("cannot compile proto files: {error:?}"),
    };
    write_schema(&descriptors);
    let mut config = prost_build::Config::new();
    config.message_attribute(".", "#[derive(serde::Serialize)]");
    add_json_attributes(&mut config, &descriptors);
    if let Err(error) = config.compile_fds(descriptors) {
        panic!("cannot generate Rust from proto files: {error}");
    }
}

/// Writes `OUT_DIR/session_protos_schema.rs`: for every message, its proto2 `required` field
/// numbers and its message-typed fields, so `protocol::protos::wire::check_required` can reject
/// what C++ protobuf (LSU) and protobufjs (DESKTOP) reject; prost itself does not check.
fn write_schema(set: &FileDescriptorSet) {
    fn walk(out: &mut String, parent: &str, msg: &DescriptorProto) {
        let name = format!("{parent}.{}", msg.name.clone().unwrap_or_default());
        let required: Vec<String> = msg
            .field
            .iter()
            .filter(|f| f.label() == Label::Required)
            .map(|f| f.number().to_string())
            .collect();
        let children: Vec<String> = msg
            .field
            .iter()
            .filter(|f| f.r#type() == Type::Message)
            .map(|f| {
                format!(
                    "({}, {:?}, {})",
                    f.number(),
                    f.type_name
                        .as_deref()
                        .unwrap_or_default()
                        .trim_start_matches('.'),
                    f.label() == Label::Repeated
                )
            })
            .collect();
        out.push_str(&format!(
            "    MessageSchema {{ name: {:?}, required: &[{}], children: &[{}] }},\n",
            name.trim_start_matches('.'),
            required.join(", "),
            children.join(", ")
        ));
        for nested in &msg.nested_type {
            walk(out, &name, nested);
        }
    }
    let mut out = String::from("&[\n");
    for file in &set.file {
        let package = file.package.clone().unwrap_or_default();
        for message in &file.message_type {
            walk(&mut out, &format!(".{package}"), message);
        }
    }
    out.push(']');
    let dir = std::env::var("OUT_DIR").unwrap_or_default();
    let path = std::path::Path::new(&dir).join("session_protos_schema.rs");
    if let Err(error) = std::fs::write(&path, out) {
        panic!("cannot write {}: {error}", path.display());
    }
}

fn add_json_attributes(config: &mut prost_build::Config, set: &FileDescriptorSet) {
    for file in &set.file {
        let package = file.package.clone().unwrap_or_default();
        for message in &file.message_type {
            visit(config, &format!(".{package}"), &[], message);
        }
    }
}

/// Adds the serde attributes for each field of `message` (and its nested messages).
/// `modules` is the chain of Rust module names prost generates for the enclosing messages.
fn visit(
    config: &mut prost_build::Config,
    parent: &str,
    modules: &[String],
    msg: &DescriptorProto,
) {
    let name = msg.name.clone().unwrap_or_default();
    let path = format!("{parent}.{name}");
    for field in &msg.field {
        let label = field.label();
        let mut attrs = Vec::new();
        match label {
            Label::Optional => attrs.push("skip_serializing_if = \"Option::is_none\"".to_string()),
            Label::Repeated => attrs.push("skip_serializing_if = \"Vec::is_empty\"".to_string()),
            Label::Required => {}
        }
        let helper = match label {
            Label::Optional => "opt_",
            Label::Repeated => "vec_",
            Label::Required => "",
        };
        match field.r#type() {
            Type::Bytes => attrs.push(format!("serialize_with = \"{JSON}::{helper}base64\"")),
            Type::Enum => {
                let rust = enum_rust_path(field.type_name.as_deref().unwrap_or_default());
                attrs.push(format!(
                    "serialize_with = \"{JSON}::{helper}enum_name::<{PROTOS}::{rust}, _>\""
                ));
            }
            _ => {}
        }
        if !attrs.is_empty() {
            let field_name = field.name.clone().unwrap_or_default();
            config.field_attribute(
                format!("{path}.{field_name}"),
                format!("#[serde({})]", attrs.join(", ")),
            );
        }
    }
    let mut inner = modules.to_vec();
    inner.push(snake_case(&name));
    for nested in &msg.nested_type {
        visit(config, &path, &inner, nested);
    }
}

/// `.SessionProtos.DataMessage.Reaction.Action` → `data_message::reaction::Action`.
fn enum_rust_path(type_name: &str) -> String {
    let mut parts: Vec<&str> = type_name.trim_start_matches('.').split('.').collect();
    if !parts.is_empty() {
        parts.remove(0); // the package: prost puts one package per generated file
    }
    let Some(last) = parts.pop() else {
        return String::new();
    };
    let mut out: Vec<String> = parts.iter().map(|p| snake_case(p)).collect();
    out.push(last.to_string());
    out.join("::")
}

/// prost's module naming for our CamelCase message names (`WebSocketMessage` → `web_socket_message`).
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for ch in name.chars() {
        if ch.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(ch);
            previous_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        }
    }
    out
}

//! `docs/tools.md`, generated from the catalogue; a test keeps the
//! committed file equal to this output.

use crate::catalogue::{CATALOGUE, Kind, Tier, Topic};
use std::fmt::Write;

fn kind(k: Kind) -> String {
    match k {
        Kind::Text { max } => format!("string ≤ {max}"),
        Kind::Bool => "boolean".into(),
        Kind::Int { min, max } => format!("integer {min}–{max}"),
        Kind::Host => "IP or host name".into(),
        Kind::Cidr => "IPv4/prefix".into(),
        Kind::ItemId => "item id (`*1A`)".into(),
        Kind::HostList { max } => format!("list of 1–{max} IPs or host names"),
        Kind::OneOf(words) => words.join(" \\| "),
        Kind::Words { max } => format!("list of ≤ {max} words"),
        Kind::DeviceIds { max } => format!("list of 1–{max} device ids"),
        Kind::Uuid => "id (UUID)".into(),
    }
}

fn capability(tier: Tier, topic: Topic) -> String {
    let base = match tier {
        Tier::Fundamental => "none",
        Tier::Advanced => "`allow_advanced_writes`",
        Tier::Professional => "`allow_professional_workflows`",
    };
    match topic {
        Topic::None => base.into(),
        t => format!(
            "{base} + `allow_{}_writes`",
            format!("{t:?}").to_lowercase()
        ),
    }
}

/// The whole document.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Tools\n\n\
         Generated from the catalogue (`crates/tools/src/catalogue.rs`) by `cargo xtask openapi`; \
         a test fails when this file and the code disagree.\n\n\
         Every tool runs on one device, over MCP (`tools/call` with `device_id`) or REST \
         (`POST /api/v1/devices/{device_id}/tools/{tool}` with the parameters as the body). \
         Both paths pass the same guards, in this order, and every refusal is audited:\n\n\
         1. the caller holds `tool:<tier>` from a role binding whose scope reaches the device;\n\
         2. if the caller has device scopes, the device is in one of them;\n\
         3. the binding's environment limits include the device's environment;\n\
         4. the device's capability flags allow the tier (and the topic, for professional tools);\n\
         5. the input matches the parameters below (unknown fields are refused);\n\
         6. the device has stored credentials.\n\n\
         Writes read the current state first, do nothing when nothing would change, honour \
         `dry_run`, address items by their `.id` and read the result back. Passwords, keys and \
         pre-shared keys are redacted from every result.\n\n\
         | tool | category | tier | writes | device capability | parameters | what it does |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for t in CATALOGUE {
        let params = if t.params.is_empty() {
            "—".to_owned()
        } else {
            t.params
                .iter()
                .map(|p| {
                    format!(
                        "`{}`{}: {}",
                        p.name,
                        if p.required { "" } else { "?" },
                        kind(p.kind)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            t.name,
            t.category,
            t.tier.as_str(),
            if t.writes { "yes" } else { "no" },
            capability(t.tier, t.topic),
            params,
            t.summary
        );
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_tools_md_matches_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tools.md");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == super::markdown(),
            "docs/tools.md is out of date: run `cargo xtask openapi`"
        );
    }
}

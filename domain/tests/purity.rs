//! House rule as a test: the domain depends on nothing that does IO,
//! async, serialization or id generation.

const FORBIDDEN: &[&str] = &["tokio", "sqlx", "axum", "serde", "rdkafka", "actix", "uuid"];

/// The text of the `[dependencies]` table, up to the next table header.
fn dependencies_section(manifest: &str) -> String {
    let mut in_dependencies = false;
    let mut section = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            // `[dependencies.tokio]` declares a dependency in its header.
            in_dependencies = trimmed == "[dependencies]" || trimmed.starts_with("[dependencies.");
            if trimmed != "[dependencies]" && in_dependencies {
                section.push_str(trimmed);
                section.push('\n');
            }
            continue;
        }
        if in_dependencies {
            section.push_str(trimmed);
            section.push('\n');
        }
    }
    section
}

#[test]
fn domain_depends_on_no_infrastructure() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(path).expect("domain/Cargo.toml is readable");
    assert!(
        manifest.contains("[dependencies]"),
        "the manifest must keep an explicit [dependencies] table"
    );
    let dependencies = dependencies_section(&manifest).to_lowercase();
    for name in FORBIDDEN {
        assert!(
            !dependencies.contains(name),
            "domain must not depend on {name}; it stays pure and synchronous"
        );
    }
}

#[test]
fn no_dependency_tables_hide_elsewhere() {
    // Target-specific tables such as `[target.'cfg(unix)'.dependencies]`
    // would dodge the check above, so they are banned outright.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = std::fs::read_to_string(path).expect("domain/Cargo.toml is readable");
    for line in manifest.lines().map(str::trim) {
        let is_table = line.starts_with('[');
        let hidden = line.contains("dependencies") && line.starts_with("[target");
        assert!(!(is_table && hidden), "unexpected dependency table: {line}");
    }
}

#[test]
fn section_parser_reads_only_dependencies() {
    let manifest = "[package]\nname = \"tokio\"\n[dependencies]\nfoo = \"1\"\n[dev-dependencies]\nserde = \"1\"\n";
    assert_eq!(dependencies_section(manifest), "foo = \"1\"\n");
    let dotted = "[dependencies.tokio]\nversion = \"1\"\n";
    assert!(dependencies_section(dotted).contains("tokio"));
}

use super::*;

/// The shipped default configuration: whatever keys it has today, each one is read, documented
/// and matches the TOML parse.
#[test]
fn shipped_config_is_fully_documented() {
    let text = include_str!("../../config/pam_mfa.toml");
    let doc = parse(text).expect("config/pam_mfa.toml must be readable by the man page generator");
    assert!(!doc.intro.is_empty(), "the file starts with an introduction");
    let groups: usize = doc.tables.iter().map(|t| t.groups.len()).sum();
    assert!(groups > 0);
    for table in &doc.tables {
        for group in &table.groups {
            assert!(!group.keys.is_empty());
            assert!(group.doc.iter().any(|l| !l.is_empty()), "{}: {group:?}", table.name);
        }
    }
}

const SAMPLE: &str = r#"# Intro line one.
#
# Intro paragraph two.

# Top-level switch.
#   false: no
#   true:  yes
flag = false

# The store.
[store]
# Where it is.
dir = "/var/lib/x" # trailing comment

[limits]
# Several values.
list = [
  1,
  2, # two
]

# One rule per entry.
[[rule]]
# Services matched.
service = "sshd"

[[rule]]
service = "sudo"

# A closing note.
"#;

#[test]
fn sample_is_read_item_by_item() {
    let doc = parse(SAMPLE).unwrap();
    assert_eq!(doc.intro, ["Intro line one.", "", "Intro paragraph two."]);
    let names: Vec<_> = doc.tables.iter().map(|t| (t.name.as_str(), t.is_array)).collect();
    assert_eq!(names, [("", false), ("store", false), ("limits", false), ("rule", true)]);
    let flag = &doc.tables[0].groups[0];
    assert_eq!((flag.keys[0].name.as_str(), flag.keys[0].default.as_str()), ("flag", "false"));
    assert_eq!(flag.doc, ["Top-level switch.", "  false: no", "  true:  yes"]);
    assert_eq!(doc.tables[1].doc, ["The store."]);
    assert_eq!(doc.tables[1].groups[0].keys[0].default, "\"/var/lib/x\"");
    assert_eq!(doc.tables[2].groups[0].keys[0].default, "[1, 2]");
    assert_eq!(doc.tables[3].doc, ["One rule per entry."]);
    assert_eq!(doc.tables[3].groups.len(), 1, "a repeated [[rule]] key is documented once");
    assert_eq!(doc.tables[3].groups[0].keys[0].default, "\"sshd\"", "default from the first entry");
    assert_eq!(doc.notes, ["A closing note."]);
}

#[test]
fn comment_paragraphs_above_a_key_stay_with_it() {
    let doc = parse("# intro\n\n# general note\n\n# the key\nk = 1\n").unwrap();
    assert_eq!(doc.tables[0].groups[0].doc, ["general note", "", "the key"]);
}

#[test]
fn keys_right_below_a_documented_key_share_its_comment() {
    let doc = parse("# intro\n\n[lockout]\n# a and b\na = 1\nb = 2\n# c\nc = 3\n").unwrap();
    let groups: Vec<Vec<&str>> = doc.tables[1]
        .groups
        .iter()
        .map(|g| g.keys.iter().map(|k| k.name.as_str()).collect())
        .collect();
    assert_eq!(groups, [vec!["a", "b"], vec!["c"]]);
}

#[test]
fn undocumented_key_is_an_error() {
    let err = parse("# intro\n\n# documented\na = 1\n\nb = 2\n").unwrap_err();
    assert!(err.contains("line 6") && err.contains("key b has no comment"), "{err}");
    let err = parse("# intro\n\n# documented\na = 1\n[t]\nb = 2\n").unwrap_err();
    assert!(err.contains("key b has no comment"), "{err}");
}

#[test]
fn inline_tables_and_dotted_keys_are_keys() {
    let doc =
        parse("# intro\n\n# map\nt = { a = { b = 1 } }\n# dotted\nstore.dir = \"x\"\n").unwrap();
    let keys: Vec<_> = doc.tables[0].groups.iter().map(|g| g.keys[0].name.as_str()).collect();
    assert_eq!(keys, ["t", "store.dir"]);
    assert_eq!(doc.tables[0].groups[0].keys[0].default, "{ a = { b = 1 } }");
}

#[test]
fn keys_the_reader_missed_are_an_error() {
    let parsed: toml::Table = "a = 1\n[t]\nb = 2\n".parse().unwrap();
    let key = |name: &str| KeyGroup {
        keys: vec![Key { name: name.into(), default: "1".into() }],
        doc: vec!["d".into()],
    };
    let doc = ConfigDoc {
        intro: vec![],
        tables: vec![
            TableDoc::new(String::new(), false, vec![]),
            TableDoc::new("t".into(), false, vec![]),
        ],
        notes: vec![],
    };
    let err = check_against_toml(&doc, &parsed).unwrap_err();
    assert!(err.contains("\"a\"") && err.contains("\"t.b\""), "{err}");
    let mut doc = doc;
    doc.tables[0].groups.push(key("a"));
    doc.tables[1].groups.push(key("b"));
    doc.tables[1].groups.push(key("c"));
    let err = check_against_toml(&doc, &parsed).unwrap_err();
    assert!(err.contains("keys not in TOML: [\"t.c\"]"), "{err}");
    doc.tables[1].groups.pop();
    assert_eq!(check_against_toml(&doc, &parsed), Ok(()));
}

#[test]
fn invalid_toml_and_unreadable_lines_are_errors() {
    assert!(parse("# intro\n\n# x\nx = \n").unwrap_err().contains("not valid TOML"));
    assert!(parse("[a\n").is_err());
}

#[test]
fn value_end_detection() {
    assert!(value_complete("1"));
    assert!(value_complete("\"[not a bracket\""));
    assert!(value_complete("[1, 2] # [comment"));
    assert!(!value_complete("[1, # ]\n2,"));
    assert!(value_complete("[1, # ]\n2]"));
    assert!(!value_complete("[1,"));
    assert!(!value_complete("\"\"\"start"));
}

#[test]
fn values_are_written_back_as_toml() {
    let t: toml::Table = "s = \"a\\\"b\"\nf = 1.5\na = [\"x\", 2]".parse().unwrap();
    assert_eq!(toml_text(&t["s"]), "\"a\\\"b\"");
    assert_eq!(toml_text(&t["f"]), "1.5");
    assert_eq!(toml_text(&t["a"]), "[\"x\", 2]");
}

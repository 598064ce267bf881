//! pam_mfa.toml(5), rendered from the comments of `config/pam_mfa.toml` (see [`config_doc`]).
//!
//! [`config_doc`]: crate::config_doc

use crate::config_doc::{ConfigDoc, KeyGroup};
use crate::roff::{self, Context};
use mfa_login::config::DEFAULT_PATH;

/// Renders the man page for the parsed configuration.
pub(crate) fn render(doc: &ConfigDoc, version: &str) -> String {
    let mut out = format!(
        ".TH PAM_MFA.TOML 5 \"\" \"pam_mfa {version}\" \"File Formats Manual\"\n\
         .SH NAME\n\
         pam_mfa.toml \\- configuration of the pam_mfa PAM module and mfa\\-enroll\n\
         .SH SYNOPSIS\n\
         .B {path}\n\
         .SH DESCRIPTION\n",
        path = roff::text(DEFAULT_PATH),
    );
    out.push_str(&roff::paragraphs(&doc.intro, Context::Section));
    out.push_str(
        ".PP\nThe file is in TOML. The installed file lists every key with its default value; \
         a key left out takes the default shown below.\n",
    );
    out.push_str(".SH KEYS\n");
    for table in &doc.tables {
        if !table.name.is_empty() {
            let header = if table.is_array {
                format!("[[{}]]", table.name)
            } else {
                format!("[{}]", table.name)
            };
            out.push_str(&format!(".SS \"{}\"\n", roff::text(&header)));
            if table.is_array {
                out.push_str(&format!(
                    ".PP\nA list: each \\fB{}\\fR header starts one more entry.\n",
                    roff::text(&header)
                ));
            }
        }
        if !table.doc.is_empty() {
            out.push_str(".PP\n");
            out.push_str(&roff::paragraphs(&table.doc, Context::Section));
        }
        for group in &table.groups {
            out.push_str(&render_group(group));
        }
    }
    if !doc.notes.is_empty() {
        out.push_str(".SH NOTES\n");
        out.push_str(&roff::paragraphs(&doc.notes, Context::Section));
    }
    out.push_str(&format!(
        ".SH FILES\n\
         .TP\n\
         .I {path}\n\
         The configuration, read on every login. Another file can be named with the module \
         argument \\fBconfig=\\fR\\fIPATH\\fR and with \\fBmfa\\-enroll \\-\\-config\\fR \\fIPATH\\fR.\n\
         .SH SEE ALSO\n\
         .BR pam_mfa (8),\n\
         .BR mfa\\-enroll (1)\n",
        path = roff::text(DEFAULT_PATH),
    ));
    out
}

/// Keys documented together as one tagged paragraph: a `name = default` tag per key (`.TQ`
/// stacks the tags), then their comment.
fn render_group(group: &KeyGroup) -> String {
    let mut out = String::new();
    for (index, key) in group.keys.iter().enumerate() {
        out.push_str(if index == 0 { ".TP\n" } else { ".TQ\n" });
        out.push_str(&format!(
            "\\fB{}\\fR = \\fI{}\\fR\n",
            roff::text(&key.name),
            roff::text(&key.default)
        ));
    }
    out.push_str(&roff::paragraphs(&group.doc, Context::Item));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_doc;

    #[test]
    fn every_key_of_the_shipped_config_is_on_the_page() {
        let doc = config_doc::parse(include_str!("../../config/pam_mfa.toml")).unwrap();
        let page = render(&doc, "9.9.9");
        assert!(page.starts_with(".TH PAM_MFA.TOML 5 \"\" \"pam_mfa 9.9.9\""));
        for table in &doc.tables {
            if !table.name.is_empty() {
                assert!(page.contains(&roff::text(&table.name)), "[{}] on the page", table.name);
            }
            for key in table.groups.iter().flat_map(|g| &g.keys) {
                let tag = format!("\\fB{}\\fR = ", roff::text(&key.name));
                assert!(page.contains(&tag), "{} on the page", key.name);
            }
        }
    }

    #[test]
    fn arrays_of_tables_and_notes() {
        let doc = config_doc::parse("# intro\n\n# r\n[[rule]]\n# s\ns = 1\n# closing\n").unwrap();
        let page = render(&doc, "1");
        assert!(page.contains(".SS \"[[rule]]\"\n"));
        assert!(page.contains(".TP\n\\fBs\\fR = \\fI1\\fR\ns\n"));
        assert!(page.contains(".SH NOTES\nclosing\n"));
        let doc = config_doc::parse("# intro\n\n# a and b\na = 1\nb = 2\n").unwrap();
        let page = render(&doc, "1");
        assert!(page.contains(".TP\n\\fBa\\fR = \\fI1\\fR\n.TQ\n\\fBb\\fR = \\fI2\\fR\na and b\n"));
    }
}

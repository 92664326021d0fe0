//! `wasmgate ls` and `wasmgate rm NAME`: the admin API's list and delete.

use super::client;
use anyhow::Context;
use serde_json::{Value, json};
use std::io::IsTerminal;
use wasmgate::cli::{LsArgs, RmArgs};
use wasmgate_config::FunctionName;

/// The columns `ls` prints, in order.
const COLUMNS: [&str; 6] = [
    "NAME",
    "VERSION",
    "STATUS",
    "STATE",
    "INSTANCES",
    "DEPLOYED",
];

/// Lists the deployed functions: an aligned table on a terminal, tab-separated lines without a
/// header otherwise, the gateway's JSON (`{"functions": [...]}`) with `--json`.
pub fn ls(args: &LsArgs) -> anyhow::Result<()> {
    let target = client::resolve(&args.gateway)?;
    let body = client::runtime()?.block_on(async {
        let http = client::http()?;
        let response = client::send(
            target.admin(&http, reqwest::Method::GET, "/functions"),
            &target.url,
        )
        .await?;
        client::success(response, args.json).await
    })?;
    let list: Value = serde_json::from_slice(&body).context("the gateway did not answer JSON")?;
    if args.json {
        println!("{list}");
        return Ok(());
    }
    let functions = list["functions"]
        .as_array()
        .context("the gateway's answer has no `functions` list")?;
    print!(
        "{}",
        table(&rows(functions), std::io::stdout().is_terminal())
    );
    Ok(())
}

/// One row of cells per function, in [`COLUMNS`] order.
fn rows(functions: &[Value]) -> Vec<Vec<String>> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    functions
        .iter()
        .map(|f| {
            let status = match f["reason"]["code"].as_str() {
                Some(code) => format!("{} ({code})", text(&f["status"])),
                None => text(&f["status"]),
            };
            vec![
                text(&f["name"]),
                text(&f["version"]),
                status,
                text(&f["state"]),
                text(&f["instances"]),
                text(&f["deployed_at"]),
            ]
        })
        .collect()
}

/// `rows` as an aligned table under a header (`aligned`), or as tab-separated lines.
fn table(rows: &[Vec<String>], aligned: bool) -> String {
    let mut out = String::new();
    if !aligned {
        for row in rows {
            out.push_str(&row.join("\t"));
            out.push('\n');
        }
        return out;
    }
    let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let mut widths: Vec<usize> = header.iter().map(|c| c.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Deletes a function (with its key-value data under `--purge`).
pub fn rm(args: &RmArgs) -> anyhow::Result<()> {
    let target = client::resolve(&args.gateway)?;
    let name = FunctionName::try_from(args.name.clone())?;
    let mut path = format!("/functions/{}", name.as_str());
    if args.purge {
        path.push_str("?purge=true");
    }
    let body = client::runtime()?.block_on(async {
        let http = client::http()?;
        let response = client::send(
            target.admin(&http, reqwest::Method::DELETE, &path),
            &target.url,
        )
        .await?;
        client::success(response, args.json).await
    })?;
    let purged = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["purged_keys"].as_u64());
    if args.json {
        println!(
            "{}",
            json!({ "name": name.as_str(), "deleted": true, "purged_keys": purged })
        );
    } else {
        match purged {
            Some(keys) => println!("deleted {} (purged {keys} keys)", name.as_str()),
            None => println!("deleted {}", name.as_str()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed() -> Vec<Value> {
        vec![
            json!({"name": "hello", "version": 3, "status": "serving", "state": "warm",
                   "instances": 1, "deployed_at": "2026-01-01T00:00:00Z"}),
            json!({"name": "old-one", "version": 12, "status": "expired", "state": "cold",
                   "instances": 0, "deployed_at": "2025-01-01T00:00:00Z",
                   "reason": {"code": "expired", "message": "…"}}),
        ]
    }

    #[test]
    fn a_terminal_gets_an_aligned_table_under_a_header() {
        let text = table(&rows(&listed()), true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NAME     VERSION  STATUS"), "{text}");
        assert!(lines[1].starts_with("hello    3        serving "), "{text}");
        assert!(
            lines[2].starts_with("old-one  12       expired (expired)"),
            "{text}"
        );
        // Columns start at the same offset on every line.
        let at = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(at(lines[0], "STATE"), at(lines[1], "warm"));
        assert_eq!(at(lines[0], "STATE"), at(lines[2], "cold"));
    }

    #[test]
    fn a_pipe_gets_tab_separated_lines_without_a_header() {
        assert_eq!(
            table(&rows(&listed()), false),
            "hello\t3\tserving\twarm\t1\t2026-01-01T00:00:00Z\n\
             old-one\t12\texpired (expired)\tcold\t0\t2025-01-01T00:00:00Z\n"
        );
    }
}

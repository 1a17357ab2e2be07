//! Syntax checks of declared SQL, so a typo in a query fails `cargo build`
//! instead of a run. Only syntax: names and types are the engine's business.

use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// sqlparser is built without `std`, which also drops its recursion limit:
/// refuse absurd nesting before it can overflow the compiler's stack.
const MAX_NESTING: usize = 64;

/// Checks that `sql` is one boolean-looking SQL expression (a `filter`).
pub fn check_expr(sql: &str) -> Result<(), String> {
    precheck(sql)?;
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| message(&e))?;
    parser.parse_expr().map_err(|e| message(&e))?;
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        token => Err(format!(
            "unexpected `{token}` after the end of the expression"
        )),
    }
}

/// Checks that `sql` is exactly one query (`SELECT …`, `WITH … SELECT …`).
pub fn check_query(sql: &str) -> Result<(), String> {
    precheck(sql)?;
    let statements = Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| message(&e))?;
    match statements.as_slice() {
        [Statement::Query(_)] => Ok(()),
        [] => Err("the query is empty".to_string()),
        [_] => Err("expected a query (`SELECT ...`), found another kind of statement".to_string()),
        _ => Err(format!(
            "expected one query, found {} statements",
            statements.len()
        )),
    }
}

fn precheck(sql: &str) -> Result<(), String> {
    if sql.trim().is_empty() {
        return Err("the SQL is empty".to_string());
    }
    let mut depth = 0usize;
    for c in sql.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(format!(
                "the SQL nests parentheses more than {MAX_NESTING} deep"
            ));
        }
    }
    Ok(())
}

fn message(error: &ParserError) -> String {
    match error {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => "the SQL nests too deeply".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        check_expr("chargeback_timestamp IS NOT NULL").unwrap();
        check_expr("amount > 10 AND (status = 'paid' OR status = 'refunded')").unwrap();
        assert!(check_expr("chargeback_timestamp IS NOT").is_err());
        assert!(check_expr("a = 1 b")
            .unwrap_err()
            .contains("unexpected `b`"));
        assert!(check_expr("").unwrap_err().contains("empty"));
        assert!(check_expr("'unterminated").is_err());
    }

    #[test]
    fn queries() {
        check_query("SELECT o.*, u.segment FROM order_events o JOIN users u ON o.cpf = u.cpf")
            .unwrap();
        check_query("WITH x AS (SELECT 1 AS a) SELECT a FROM x;").unwrap();
        assert!(check_query("SELEC * FROM t").is_err());
        assert!(check_query("SELECT * FROM t; SELECT 1")
            .unwrap_err()
            .contains("2 statements"));
        assert!(check_query("DROP TABLE t")
            .unwrap_err()
            .contains("another kind"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let sql = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(check_expr(&sql).unwrap_err().contains("nests"));
    }
}

//! Syntax checks of declared SQL, so a typo in a query fails `cargo build`
//! instead of a run. Only syntax: names and types are the engine's business.

use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

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

/// The column names a valid SQL expression over one row reads, in order of
/// appearance, each once: the identifiers that are no keyword, no function
/// name (before `(`) and not part of a qualified name (`t.a`), whose table
/// the macro cannot know; quoted identifiers always. Empty if the SQL does
/// not parse (its syntax error is reported already).
pub fn columns(sql: &str) -> Vec<String> {
    if check_expr(sql).is_err() {
        return Vec::new();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Word(word) = token else {
            continue;
        };
        let quoted = word.quote_style.is_some();
        let next = tokens.get(i + 1);
        let previous = i.checked_sub(1).and_then(|p| tokens.get(p));
        let function = matches!(next, Some(Token::LParen));
        let qualified =
            matches!(next, Some(Token::Period)) || matches!(previous, Some(Token::Period));
        let keyword = word.keyword != Keyword::NoKeyword;
        if qualified || (!quoted && (keyword || function)) {
            continue;
        }
        if !columns.contains(&word.value) {
            columns.push(word.value.clone());
        }
    }
    columns
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
    fn columns_of_expressions() {
        assert_eq!(
            columns("chargeback_timestamp IS NOT NULL"),
            ["chargeback_timestamp"]
        );
        assert_eq!(
            columns("amount > 10 AND (currency = 'BRL' OR lower(kind) = 'a') AND amount < 99"),
            ["amount", "currency", "kind"]
        );
        // A keyword (`status`) used as a name is not told apart: not checked.
        assert_eq!(columns("status = 'paid' AND \"Kind\" = 1"), ["Kind"]);
        // Keywords, functions, qualified names and literals are no columns.
        assert!(columns("coalesce(x.a, 0) > 1 AND DATE '2020-01-01' IS NOT NULL").is_empty());
        // Quoted, a keyword is a column name.
        assert_eq!(columns("\"timestamp\" > 0"), ["timestamp"]);
        assert!(columns("a = ").is_empty());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let sql = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(check_expr(&sql).unwrap_err().contains("nests"));
    }
}

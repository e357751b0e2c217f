//! The SOQL subset sf2hs uses (salesforce.md §3.1):
//!
//! `SELECT f1, f2 | COUNT() FROM Obj [WHERE cond AND cond …] [ORDER BY f [ASC|DESC], …] [LIMIT n]`
//! with `cond` = `field op literal` (`= != <> < <= > >=`) or `field [NOT] IN (literal, …)`.
//! Literals follow SOQL's typing: text and ids quoted, datetimes (`2024-01-15T00:00:00Z`), dates,
//! numbers, `true`/`false`/`null` unquoted. Anything else is refused the way Salesforce refuses it:
//! `MALFORMED_QUERY`, `INVALID_TYPE`, `INVALID_FIELD` or `INVALID_QUERY_FILTER_OPERATOR`.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::errors::SfError;
use super::ids;
use super::schema::FieldDefinition;
use super::store::{ObjectTable, OrgData, StoredRecord};
use super::values::parse_datetime;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
    Operator(&'static str),
}

#[derive(Debug, Clone)]
struct Spanned {
    token: Token,
    column: usize,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Quoted(q) => format!("'{q}'"),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
            Token::Operator(op) => (*op).to_string(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

const KEYWORDS: [&str; 13] = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "ORDER", "BY", "ASC", "DESC", "LIMIT", "IN",
    "OFFSET",
];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '+' | '-')
}

fn tokenize(text: &str) -> Result<Vec<Spanned>, SfError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let token = match c {
            '(' => {
                i += 1;
                Token::Open
            }
            ')' => {
                i += 1;
                Token::Close
            }
            ',' => {
                i += 1;
                Token::Comma
            }
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(malformed(text, column, "'")),
                        Some('\\') => {
                            if let Some(next) = chars.get(i + 1) {
                                value.push(*next);
                            }
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                Token::Quoted(value)
            }
            '=' => {
                i += 1;
                Token::Operator("=")
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Token::Operator("!=")
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let op = match (c, next) {
                    ('<', Some('=')) => "<=",
                    ('>', Some('=')) => ">=",
                    ('<', Some('>')) => "!=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += if op.len() == 2 { 2 } else { 1 };
                Token::Operator(op)
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                Token::Word(chars[start..i].iter().collect())
            }
            other => return Err(malformed(text, column, &other.to_string())),
        };
        out.push(Spanned { token, column });
    }
    Ok(out)
}

/// Salesforce's MALFORMED_QUERY text: the query, a caret, the position, the offending token.
fn malformed(query: &str, column: usize, token: &str) -> SfError {
    let caret = format!("{}^", " ".repeat(column.saturating_sub(1)));
    SfError::malformed_query(format!(
        "\n{query}\n{caret}\nERROR at Row:1:Column:{column}\nunexpected token: '{token}'"
    ))
}

fn filter_error(message: String) -> SfError {
    SfError::bad_request("INVALID_QUERY_FILTER_OPERATOR", message)
}

/// A literal as written.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

/// A comparable value: a literal or a stored value, reduced by the field's type.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

fn compare_keys(a: &Key, b: &Key) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

#[derive(Debug, Clone)]
struct Condition {
    field: FieldDefinition,
    operator: Operator,
    values: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Count,
    Fields(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct OrderKey {
    field: FieldDefinition,
    ascending: bool,
}

/// A parsed query, its names resolved against the object's fields.
#[derive(Debug, Clone)]
pub struct Query {
    pub selection: Selection,
    pub object: String,
    conditions: Vec<Condition>,
    order_by: Vec<OrderKey>,
    pub limit: Option<usize>,
}

impl Query {
    pub fn has_order_by(&self) -> bool {
        !self.order_by.is_empty()
    }

    /// Records of `table` the query returns, in its order; soft-deleted ones only with
    /// `include_deleted` (queryAll, Bulk `queryAll`).
    pub fn run<'t>(
        &self,
        table: &'t ObjectTable,
        user_id: &str,
        include_deleted: bool,
    ) -> Vec<&'t StoredRecord> {
        let mut rows: Vec<&StoredRecord> = table
            .records
            .values()
            .filter(|r| r.visible() && (include_deleted || !r.is_deleted()))
            .filter(|r| self.conditions.iter().all(|c| c.matches(r, user_id)))
            .collect();
        if !self.order_by.is_empty() {
            // Each record's sort keys once, not at every comparison: a datetime key is parsed
            // from text, and a million records sorted by SystemModstamp took minutes.
            let mut keyed: Vec<(Vec<Key>, &StoredRecord)> = rows
                .into_iter()
                .map(|r| {
                    let keys = self
                        .order_by
                        .iter()
                        .map(|key| key_of(&key.field, &r.get(&key.field.name, user_id)))
                        .collect();
                    (keys, r)
                })
                .collect();
            keyed.sort_by(|(a, _), (b, _)| {
                for ((ka, kb), key) in a.iter().zip(b).zip(&self.order_by) {
                    // SOQL: ASC puts nulls first, DESC puts them last.
                    let ord = compare_keys(ka, kb);
                    let ord = if key.ascending { ord } else { ord.reverse() };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
            rows = keyed.into_iter().map(|(_, r)| r).collect();
        }
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        rows
    }
}

fn key_of(field: &FieldDefinition, value: &Value) -> Key {
    match value {
        Value::Null => Key::Null,
        Value::Bool(b) => Key::Bool(*b),
        Value::Number(n) => Key::Number(n.as_f64().unwrap_or_default()),
        Value::String(s) => match field.field_type.as_str() {
            "datetime" => parse_datetime(s)
                .map(|d| Key::Number(d.timestamp_millis() as f64))
                .unwrap_or(Key::Null),
            "date" => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| Key::Number(f64::from(Datelike::num_days_from_ce(&d))))
                .unwrap_or(Key::Null),
            // Ids compare on their case-sensitive 15 characters.
            "id" | "reference" => Key::Text(s.chars().take(15).collect()),
            // Text filters are case-insensitive in SOQL.
            _ => Key::Text(s.to_lowercase()),
        },
        other => Key::Text(other.to_string()),
    }
}

impl Condition {
    fn matches(&self, record: &StoredRecord, user_id: &str) -> bool {
        let value = key_of(&self.field, &record.get(&self.field.name, user_id));
        let first = self.values.first().unwrap_or(&Key::Null);
        match self.operator {
            Operator::Eq => value == *first,
            Operator::Ne => value != *first,
            Operator::In => self.values.contains(&value),
            Operator::NotIn => !self.values.contains(&value),
            _ if value == Key::Null || *first == Key::Null => false,
            Operator::Lt => compare_keys(&value, first) == Ordering::Less,
            Operator::Le => compare_keys(&value, first) != Ordering::Greater,
            Operator::Gt => compare_keys(&value, first) == Ordering::Greater,
            Operator::Ge => compare_keys(&value, first) != Ordering::Less,
        }
    }
}

/// A literal checked against the field's type, as SOQL types filters.
fn literal_key(field: &FieldDefinition, literal: &Literal) -> Result<Key, SfError> {
    let name = &field.name;
    let t = field.field_type.as_str();
    let key = match (t, literal) {
        (_, Literal::Null) => Key::Null,
        ("datetime", Literal::DateTime(d)) => Key::Number(d.timestamp_millis() as f64),
        ("datetime", _) => {
            return Err(filter_error(format!(
                "value of filter criterion for field '{name}' must be of type dateTime and should not be enclosed in quotes"
            )));
        }
        ("date", Literal::Date(d)) => Key::Number(f64::from(Datelike::num_days_from_ce(d))),
        ("date", _) => {
            return Err(filter_error(format!(
                "value of filter criterion for field '{name}' must be of type date and should not be enclosed in quotes"
            )));
        }
        ("boolean", Literal::Bool(b)) => Key::Bool(*b),
        ("boolean", _) => {
            return Err(filter_error(format!(
                "value of filter criterion for field '{name}' must be of type boolean and should not be enclosed in quotes"
            )));
        }
        ("int" | "long" | "double" | "currency" | "percent", Literal::Number(n)) => Key::Number(*n),
        ("int" | "long" | "double" | "currency" | "percent", _) => {
            return Err(filter_error(format!(
                "value of filter criterion for field '{name}' must be of type double and should not be enclosed in quotes"
            )));
        }
        ("id" | "reference", Literal::Text(s)) => {
            let id =
                ids::normalize(s).ok_or_else(|| filter_error(format!("invalid ID field: {s}")))?;
            Key::Text(id.chars().take(15).collect())
        }
        (_, Literal::Text(s)) => Key::Text(s.to_lowercase()),
        (_, _) => {
            return Err(filter_error(format!(
                "value of filter criterion for field '{name}' must be of type string and should be enclosed in quotes"
            )));
        }
    };
    Ok(key)
}

fn word_literal(word: &str) -> Option<Literal> {
    if word.eq_ignore_ascii_case("true") {
        return Some(Literal::Bool(true));
    }
    if word.eq_ignore_ascii_case("false") {
        return Some(Literal::Bool(false));
    }
    if word.eq_ignore_ascii_case("null") {
        return Some(Literal::Null);
    }
    if word.contains('T') && word.len() >= 20 {
        return DateTime::parse_from_rfc3339(word)
            .ok()
            .map(|d| Literal::DateTime(d.with_timezone(&Utc)));
    }
    if let Ok(date) = NaiveDate::parse_from_str(word, "%Y-%m-%d") {
        return Some(Literal::Date(date));
    }
    word.parse::<f64>().ok().map(Literal::Number)
}

/// A cursor over tokens with Salesforce-style errors.
struct Parser<'q> {
    query: &'q str,
    tokens: Vec<Spanned>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|s| &s.token)
    }

    fn unexpected(&self) -> SfError {
        match self.tokens.get(self.at) {
            Some(s) => malformed(self.query, s.column, &s.token.text()),
            None => malformed(self.query, self.query.chars().count() + 1, "<EOF>"),
        }
    }

    fn next(&mut self) -> Result<Token, SfError> {
        let token = self.peek().cloned().ok_or_else(|| self.unexpected())?;
        self.at += 1;
        Ok(token)
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SfError> {
        if self.peek().is_some_and(|t| t.is_keyword(keyword)) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_keyword(keyword));
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_token(&mut self, wanted: &Token) -> Result<(), SfError> {
        if self.peek() == Some(wanted) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// A field or object name (not a keyword).
    fn name(&mut self) -> Result<String, SfError> {
        match self.peek() {
            Some(Token::Word(w)) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                let name = w.clone();
                self.at += 1;
                Ok(name)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self) -> Result<Literal, SfError> {
        let position = self.at;
        match self.next()? {
            Token::Quoted(s) => Ok(Literal::Text(s)),
            Token::Word(w) => word_literal(&w).ok_or_else(|| {
                self.at = position;
                self.unexpected()
            }),
            _ => {
                self.at = position;
                Err(self.unexpected())
            }
        }
    }
}

/// Parses `text` and resolves its names against the org's objects.
pub fn parse(text: &str, org: &OrgData) -> Result<Query, SfError> {
    let mut p = Parser {
        query: text,
        tokens: tokenize(text)?,
        at: 0,
    };
    p.expect_keyword("SELECT")?;
    let mut raw_fields = Vec::new();
    let count = p.peek().is_some_and(|t| t.is_keyword("COUNT"))
        && p.tokens.get(p.at + 1).map(|s| &s.token) == Some(&Token::Open);
    if count {
        p.at += 1;
        p.expect_token(&Token::Open)?;
        p.expect_token(&Token::Close)?;
    } else {
        loop {
            let column = p.tokens.get(p.at).map(|s| s.column).unwrap_or(0);
            raw_fields.push((p.name()?, column));
            if p.peek() == Some(&Token::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }
    p.expect_keyword("FROM")?;
    let object = p.name()?;
    let table = org.table_or_err(&object)?;
    let object = table.definition.name.clone();
    let resolve = |name: &str| -> Result<FieldDefinition, SfError> {
        table
            .field(name)
            .cloned()
            .ok_or_else(|| SfError::invalid_field(name, &object))
    };

    let selection = if count {
        Selection::Count
    } else {
        let mut names: Vec<String> = Vec::new();
        for (raw, column) in &raw_fields {
            let field = resolve(raw)?;
            if names.contains(&field.name) {
                return Err(SfError::malformed_query(format!(
                    "\n{text}\n{}^\nERROR at Row:1:Column:{column}\nduplicate field selected: {}",
                    " ".repeat(column.saturating_sub(1)),
                    field.name
                )));
            }
            names.push(field.name);
        }
        Selection::Fields(names)
    };

    let mut conditions = Vec::new();
    if p.eat_keyword("WHERE") {
        loop {
            let field = resolve(&p.name()?)?;
            let operator = match p.next()? {
                Token::Operator("=") => Operator::Eq,
                Token::Operator("!=") => Operator::Ne,
                Token::Operator("<") => Operator::Lt,
                Token::Operator("<=") => Operator::Le,
                Token::Operator(">") => Operator::Gt,
                Token::Operator(">=") => Operator::Ge,
                Token::Word(w) if w.eq_ignore_ascii_case("IN") => Operator::In,
                Token::Word(w) if w.eq_ignore_ascii_case("NOT") => {
                    p.expect_keyword("IN")?;
                    Operator::NotIn
                }
                _ => {
                    p.at -= 1;
                    return Err(p.unexpected());
                }
            };
            let literals = if matches!(operator, Operator::In | Operator::NotIn) {
                p.expect_token(&Token::Open)?;
                let mut list = vec![p.literal()?];
                while p.peek() == Some(&Token::Comma) {
                    p.at += 1;
                    list.push(p.literal()?);
                }
                p.expect_token(&Token::Close)?;
                list
            } else {
                vec![p.literal()?]
            };
            let values = literals
                .iter()
                .map(|l| literal_key(&field, l))
                .collect::<Result<Vec<_>, _>>()?;
            conditions.push(Condition {
                field,
                operator,
                values,
            });
            if !p.eat_keyword("AND") {
                break;
            }
        }
    }

    let mut order_by = Vec::new();
    if p.eat_keyword("ORDER") {
        p.expect_keyword("BY")?;
        loop {
            let field = resolve(&p.name()?)?;
            let ascending = if p.eat_keyword("DESC") {
                false
            } else {
                p.eat_keyword("ASC");
                true
            };
            order_by.push(OrderKey { field, ascending });
            if p.peek() == Some(&Token::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }

    let mut limit = None;
    if p.eat_keyword("LIMIT") {
        let position = p.at;
        match p.next()? {
            Token::Word(w) if w.parse::<usize>().is_ok() => limit = w.parse::<usize>().ok(),
            _ => {
                p.at = position;
                return Err(p.unexpected());
            }
        }
    }
    if p.peek().is_some() {
        // OR, NOT, GROUP BY, OFFSET, subqueries… are outside the subset: refused, not ignored.
        return Err(p.unexpected());
    }
    if count && !order_by.is_empty() {
        return Err(SfError::malformed_query(
            "Ordered field must be grouped or aggregated: COUNT() queries take no ORDER BY",
        ));
    }
    Ok(Query {
        selection,
        object,
        conditions,
        order_by,
        limit,
    })
}

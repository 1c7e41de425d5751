//! Statements rendered once and bound many times.
//!
//! Rendering a sea-query statement to SQL text costs a few microseconds, a large share of a
//! primary-key read on SQLite. A [`Prepared`] statement carries its values apart from its
//! builder: the first time a store meets a statement of a given shape, it builds it with
//! numbered sentinel values, renders it, and records where each value lands ([`Template`]);
//! afterwards it only binds the values into the cached text. The SQL is still written once, by
//! the sea-query builder, and every value is still bound.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sea_query::{
    DeleteStatement, InsertStatement, QueryBuilder, SelectStatement, UpdateStatement, Value, Values,
};
use sea_query_sqlx::SqlxValues;

use super::Built;

const SENTINEL: &str = "\u{1}pathops-template-arg:";

/// `LIMIT` takes a number, not a value: a sentinel limit is this plus the argument's index.
const LIMIT_SENTINEL: u64 = 0x7fff_0000_0000_0000;

/// A `LIMIT` as a builder argument.
pub(crate) fn limit_value(limit: u64) -> Value {
    Value::BigUnsigned(Some(limit))
}

/// The `LIMIT` a builder argument made by [`limit_value`] stands for.
pub(crate) fn limit_arg(arg: Value) -> u64 {
    match arg {
        Value::BigUnsigned(Some(limit)) => limit,
        Value::String(Some(s)) if s.starts_with(SENTINEL) => {
            LIMIT_SENTINEL
                + s[SENTINEL.len()..]
                    .parse::<u64>()
                    .expect("a sentinel index")
        }
        other => unreachable!("a LIMIT argument is made by limit_value, not {other:?}"),
    }
}

/// Shapes above this (row counts of large multi-row inserts) are rendered on every call
/// instead of being cached.
const MAX_CACHED_SHAPE: u64 = 256;

/// Any statement sea-query builds.
#[derive(Debug)]
pub(crate) enum Statement {
    Select(SelectStatement),
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement),
}

impl Statement {
    fn build(&self, builder: impl QueryBuilder) -> (String, Values) {
        match self {
            Self::Select(s) => s.build(builder),
            Self::Insert(s) => s.build(builder),
            Self::Update(s) => s.build(builder),
            Self::Delete(s) => s.build(builder),
        }
    }
}

/// A statement's values, apart from the builder that places them.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The statement's name (the cache key, with `shape`).
    pub(crate) name: &'static str,
    /// What the builder's output depends on besides the values (which filters are set, how
    /// many rows an insert has).
    pub(crate) shape: u64,
    /// The values, in the order the builder takes them.
    pub(crate) args: Vec<Value>,
    /// Builds the statement of `shape` from the values.
    pub(crate) build: fn(u64, Args) -> Statement,
}

/// The values handed to a builder, taken in order.
#[derive(Debug)]
pub(crate) struct Args(std::vec::IntoIter<Value>);

impl Args {
    /// The next value.
    pub(crate) fn next(&mut self) -> Value {
        self.0
            .next()
            .expect("a builder takes exactly the values of its shape")
    }
}

#[derive(Debug)]
enum Slot {
    /// The builder's argument `index`; moved out at its last use, cloned before.
    Arg { index: usize, last_use: bool },
    /// A value the builder itself supplies (`LIMIT 1`, `attempts + 1`).
    Const(Value),
}

/// A statement rendered for one backend, with where each argument goes.
#[derive(Debug)]
pub(crate) struct Template {
    sql: Arc<str>,
    slots: Vec<Slot>,
}

impl Template {
    fn render(p: &Prepared, builder: impl QueryBuilder) -> Self {
        let sentinels = (0..p.args.len())
            .map(|k| Value::String(Some(format!("{SENTINEL}{k}"))))
            .collect::<Vec<_>>();
        let (sql, values) = (p.build)(p.shape, Args(sentinels.into_iter())).build(builder);
        let mut slots: Vec<Slot> = values
            .0
            .into_iter()
            .map(|v| match &v {
                Value::String(Some(s)) if s.starts_with(SENTINEL) => Slot::Arg {
                    index: s[SENTINEL.len()..].parse().expect("a sentinel index"),
                    last_use: false,
                },
                Value::BigUnsigned(Some(n)) if *n >= LIMIT_SENTINEL => Slot::Arg {
                    index: usize::try_from(n - LIMIT_SENTINEL).expect("a sentinel index"),
                    last_use: false,
                },
                _ => Slot::Const(v),
            })
            .collect();
        let mut seen = vec![false; p.args.len()];
        for slot in slots.iter_mut().rev() {
            if let Slot::Arg { index, last_use } = slot {
                *last_use = !std::mem::replace(&mut seen[*index], true);
            }
        }
        Self {
            sql: sql.into(),
            slots,
        }
    }

    fn bind(&self, args: Vec<Value>) -> Built {
        let mut args: Vec<Option<Value>> = args.into_iter().map(Some).collect();
        let values = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Const(v) => v.clone(),
                Slot::Arg {
                    index,
                    last_use: true,
                } => args[*index].take().expect("each argument is moved once"),
                Slot::Arg { index, .. } => args[*index].clone().expect("not yet moved"),
            })
            .collect();
        (self.sql.clone(), SqlxValues(Values(values)))
    }
}

/// One store's rendered templates, by statement and shape.
#[derive(Debug, Default)]
pub(crate) struct Templates {
    cache: RwLock<HashMap<(&'static str, u64), Arc<Template>>>,
}

impl Templates {
    /// `p` rendered with `B` and its values bound.
    pub(crate) fn bind<B: QueryBuilder + Default>(&self, p: Prepared) -> Built {
        if p.shape > MAX_CACHED_SHAPE {
            let (sql, values) = (p.build)(p.shape, Args(p.args.into_iter())).build(B::default());
            return (sql.into(), SqlxValues(values));
        }
        let key = (p.name, p.shape);
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned();
        let template = match cached {
            Some(t) => t,
            None => {
                let t = Arc::new(Template::render(&p, B::default()));
                self.cache
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .entry(key)
                    .or_insert(t)
                    .clone()
            }
        };
        template.bind(p.args)
    }
}

/// `p` built and rendered directly, without a template (what a template must reproduce).
#[cfg(test)]
pub(crate) fn render_directly(p: Prepared, builder: impl QueryBuilder) -> (String, Values) {
    (p.build)(p.shape, Args(p.args.into_iter())).build(builder)
}

#[cfg(test)]
mod tests {
    use sea_query::{Expr, ExprTrait, Query, SqliteQueryBuilder};

    use super::*;

    fn build(_shape: u64, mut a: Args) -> Statement {
        let (x, y) = (a.next(), a.next());
        Statement::Update(
            Query::update()
                .table("t")
                .value("a", Expr::col("a").add(1i64))
                .value("b", y.clone())
                .and_where(Expr::col("x").eq(x))
                .and_where(Expr::col("y").eq(y))
                .take(),
        )
    }

    #[test]
    fn templates_bind_values_where_the_builder_put_them() {
        let templates = Templates::default();
        for (x, y) in [("one", 1i64), ("two", 2)] {
            let p = Prepared {
                name: "test",
                shape: 0,
                args: vec![x.into(), y.into()],
                build,
            };
            let direct = build(0, Args(p.args.clone().into_iter())).build(SqliteQueryBuilder);
            let (sql, values) = templates.bind::<SqliteQueryBuilder>(p);
            assert_eq!(sql.as_ref(), direct.0);
            assert_eq!(values.0, direct.1);
        }
        let cached = templates
            .cache
            .read()
            .map(|cache| cache.len())
            .expect("no test panicked holding the cache");
        assert_eq!(cached, 1);
    }
}

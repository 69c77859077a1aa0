//! CertLogic 1.3.3 (`fixtures/dcc-rules/CertLogic-specification.md`): the language of the EU
//! DCC business rules — an evaluator and the validator that says whether a rule is well formed.
//!
//! Written by hand, not on a JsonLogic crate: CertLogic is a *restricted* JsonLogic whose
//! semantics differ exactly where those crates follow JavaScript — truthiness (a value can be
//! neither truthy nor falsy, and `if`, `and` and `!` refuse it), no type coercion (`===`, `+`
//! and the comparisons take integers or strings as they are), date-times only from
//! `plusTime` and `dccDateOfBirth` with JavaScript's UTC offsetting rules, and
//! `extractFromUVCI`; none of the crates has those operations, and none bounds an
//! evaluation. Rules come from the network, so every evaluation here has a step budget
//! ([`MAX_STEPS`]) and a depth limit ([`MAX_DEPTH`]): a hostile rule is a typed error
//! ([`CertsError::RuleLimit`]), never a hang or a stack overflow (rules are read with
//! serde_json, which refuses nesting deeper than 128 before they get here).
//!
//! Values are read in place wherever they can be (the rule's literals, the payload's fields,
//! the value sets): an evaluation copies only what it computes, which is what keeps it at a
//! fraction of a microsecond (`docs/BENCHMARKS.md`).
//!
//! Choices where the specification leaves room, each forced by its test suite
//! (`fixtures/dcc-rules/certlogic-testSuite`, all 232 assertions in `cargo test`):
//! - `in` on a `null` array is `false` (the suite's null-safety cases, which certlogic-js
//!   marks to skip because it throws);
//! - `reduce`'s lambda also sees the original data context as `data` (the "patched reduce"
//!   the specification allows), and `reduce` on `null` is its initial value;
//! - `===` compares integers, strings, booleans and `null` by value; arrays, objects and
//!   date-times are never `===` (JavaScript compares them by reference).
//!
//! Anything else outside the specification — an unknown operator, a wrong operand count, a
//! type mismatch found while evaluating — is [`CertsError::Rule`], in words.

use serde_json::{Map, Value as Json};

use crate::CertsError;

/// Most evaluation steps (nodes evaluated, `reduce` items folded) of one evaluation.
pub const MAX_STEPS: u64 = 100_000;
/// Deepest nesting of expressions (and of `reduce` lambdas) evaluated.
pub const MAX_DEPTH: usize = 64;

/// A value CertLogic computes: JSON, or a date-time (milliseconds since the Unix epoch, UTC),
/// which only `plusTime` and `dccDateOfBirth` make.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A JSON value.
    Json(Json),
    /// A date-time.
    DateTime(i64),
}

impl Value {
    /// As JSON: a date-time as its ISO 8601 text in UTC with milliseconds.
    #[must_use]
    pub fn into_json(self) -> Json {
        match self {
            Value::Json(json) => json,
            Value::DateTime(millis) => Json::String(format_date_time(millis)),
        }
    }
}

/// A value while evaluating: JSON read in place from the rule or the data (most values a
/// rule handles: literals, fields of the payload, value sets), JSON computed, a date-time,
/// or an array an expression built (`[{"var": "payload.v"}, {"var": "payload.t"}]`), whose
/// items stay as they were evaluated. Reading in place is what keeps an evaluation free of
/// allocations.
#[derive(Debug, Clone)]
enum Val<'a> {
    Borrowed(&'a Json),
    Computed(Json),
    DateTime(i64),
    List(Vec<Val<'a>>),
}

/// `null`, for a value that is absent.
static NULL: Json = Json::Null;

impl<'a> Val<'a> {
    fn bool(value: bool) -> Self {
        Val::Computed(Json::Bool(value))
    }

    /// The JSON, or `None` for a date-time or a built array.
    fn json(&self) -> Option<&Json> {
        match self {
            Val::Borrowed(json) => Some(json),
            Val::Computed(json) => Some(json),
            Val::DateTime(_) | Val::List(_) => None,
        }
    }

    /// The value at `fragments` inside this one: borrowed if this one is, else copied.
    fn walk<'p>(&self, mut fragments: impl Iterator<Item = &'p str>) -> Option<Val<'a>> {
        match self {
            Val::Borrowed(json) => walk(Some(json), fragments).map(Val::Borrowed),
            Val::Computed(json) => walk(Some(json), fragments).cloned().map(Val::Computed),
            Val::DateTime(_) => fragments.next().is_none().then(|| self.clone()),
            Val::List(items) => match fragments.next() {
                None => Some(self.clone()),
                Some(index) => items.get(index.parse::<usize>().ok()?)?.walk(fragments),
            },
        }
    }

    /// The same value, owning what it borrowed.
    fn into_owned(self) -> Value {
        match self {
            Val::Borrowed(json) => Value::Json(json.clone()),
            Val::Computed(json) => Value::Json(json),
            Val::DateTime(millis) => Value::DateTime(millis),
            Val::List(items) => {
                Value::Json(Json::Array(items.into_iter().map(Val::into_json).collect()))
            }
        }
    }

    fn into_static(self) -> Val<'static> {
        match self.into_owned() {
            Value::Json(json) => Val::Computed(json),
            Value::DateTime(millis) => Val::DateTime(millis),
        }
    }

    fn into_json(self) -> Json {
        self.into_owned().into_json()
    }
}

/// Truthy (`Some(true)`), falsy (`Some(false)`), or neither (`None`): a non-integer number
/// or a date-time.
fn truthiness(value: &Val<'_>) -> Option<bool> {
    if let Val::List(items) = value {
        return Some(!items.is_empty());
    }
    match value.json()? {
        Json::Null => Some(false),
        Json::Bool(b) => Some(*b),
        Json::String(s) => Some(!s.is_empty()),
        Json::Array(items) => Some(!items.is_empty()),
        Json::Object(map) => Some(!map.is_empty()),
        number @ Json::Number(_) => integer(number).map(|n| n != 0),
    }
}

/// The integer a JSON number is, if it is one (`42.0` is, as in JavaScript).
fn integer(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15)
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

/// A literal that evaluates to itself: a string, a boolean or an integer.
fn is_literal(json: &Json) -> bool {
    match json {
        Json::Bool(_) | Json::String(_) => true,
        Json::Number(_) => integer(json).is_some(),
        _ => false,
    }
}

fn invalid(message: impl Into<String>) -> CertsError {
    CertsError::Rule(message.into())
}

/// The data a rule reads: one JSON document, or the business rules' data given in parts so
/// that the value sets, the same for every certificate, are read in place, never copied.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// One document.
    Document(&'a Json),
    /// `{"payload": payload, "external": external + {"valueSets": value_sets}}`.
    Gateway {
        /// The certificate's payload.
        payload: &'a Json,
        /// The external data but its value sets.
        external: &'a Json,
        /// `external.valueSets`.
        value_sets: &'a Json,
    },
}

impl<'a> Data<'a> {
    /// The value at a dotted path: in place, but for the whole `external` of `Gateway` data,
    /// which exists only as parts.
    fn at(&self, path: &str) -> Option<Val<'a>> {
        match *self {
            Data::Document(json) => walk(Some(json), path.split('.')).map(Val::Borrowed),
            Data::Gateway {
                payload,
                external,
                value_sets,
            } => {
                let mut fragments = path.split('.');
                match fragments.next()? {
                    "payload" => walk(Some(payload), fragments).map(Val::Borrowed),
                    "external" => match fragments.next() {
                        None => Some(Val::Computed(external_with(external, value_sets))),
                        Some("valueSets") => walk(Some(value_sets), fragments).map(Val::Borrowed),
                        Some(first) => walk(drill(external, first), fragments).map(Val::Borrowed),
                    },
                    _ => None,
                }
            }
        }
    }

    fn whole(&self) -> Val<'a> {
        match *self {
            Data::Document(json) => Val::Borrowed(json),
            Data::Gateway {
                payload,
                external,
                value_sets,
            } => Val::Computed(serde_json::json!({
                "payload": payload,
                "external": external_with(external, value_sets),
            })),
        }
    }
}

/// `external` with its `valueSets` put back, for a rule that reads it whole.
fn external_with(external: &Json, value_sets: &Json) -> Json {
    let mut whole = external.clone();
    if let Json::Object(map) = &mut whole {
        map.insert("valueSets".into(), value_sets.clone());
    }
    whole
}

fn walk<'a, 'p>(
    start: Option<&'a Json>,
    fragments: impl Iterator<Item = &'p str>,
) -> Option<&'a Json> {
    fragments.fold(start, |value, fragment| {
        value.and_then(|v| drill(v, fragment))
    })
}

/// Where `var` reads: the data given, or inside a `reduce` the current item and the
/// accumulator (with the data under `data`).
enum Scope<'s, 'a> {
    Data(Data<'a>),
    Reduce {
        current: &'s Val<'a>,
        accumulator: &'s Val<'a>,
        data: Data<'a>,
    },
}

impl<'a> Scope<'_, 'a> {
    fn data(&self) -> Data<'a> {
        match self {
            Scope::Data(data) | Scope::Reduce { data, .. } => *data,
        }
    }
}

struct Evaluation {
    steps: u64,
}

/// Evaluates `expression` over `data`.
///
/// # Errors
/// [`CertsError::Rule`] for an expression that is not valid CertLogic or meets a value of
/// the wrong type; [`CertsError::RuleLimit`] past [`MAX_STEPS`] or [`MAX_DEPTH`].
pub fn evaluate(expression: &Json, data: &Json) -> Result<Value, CertsError> {
    evaluate_in(expression, Data::Document(data))
}

/// Evaluates `expression` over data given in parts ([`Data`]).
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_in(expression: &Json, data: Data<'_>) -> Result<Value, CertsError> {
    Evaluation { steps: 0 }
        .eval(expression, &Scope::Data(data), 0)
        .map(Val::into_owned)
}

impl Evaluation {
    /// Counts `count` steps at `depth`.
    fn step(&mut self, count: u64, depth: usize) -> Result<(), CertsError> {
        self.steps += count;
        if self.steps > MAX_STEPS {
            return Err(CertsError::RuleLimit("it takes too many steps"));
        }
        if depth > MAX_DEPTH {
            return Err(CertsError::RuleLimit("it is nested too deep"));
        }
        Ok(())
    }

    fn eval<'a>(
        &mut self,
        expression: &'a Json,
        scope: &Scope<'_, 'a>,
        depth: usize,
    ) -> Result<Val<'a>, CertsError> {
        self.step(1, depth)?;
        match expression {
            Json::Null => Err(invalid("invalid CertLogic expression: null")),
            Json::Bool(_) | Json::String(_) => Ok(Val::Borrowed(expression)),
            Json::Number(_) => match integer(expression) {
                Some(_) => Ok(Val::Borrowed(expression)),
                None => Err(invalid(format!("{expression} is a non-integer number"))),
            },
            // An array of literals (a list of codes to look in) is its own value.
            Json::Array(items) if items.iter().all(is_literal) => {
                let count = u64::try_from(items.len()).unwrap_or(u64::MAX);
                self.step(count, if items.is_empty() { depth } else { depth + 1 })?;
                Ok(Val::Borrowed(expression))
            }
            Json::Array(items) => Ok(Val::List(
                items
                    .iter()
                    .map(|item| self.eval(item, scope, depth + 1))
                    .collect::<Result<_, CertsError>>()?,
            )),
            Json::Object(map) => self.operation(map, scope, depth),
        }
    }

    fn operation<'a>(
        &mut self,
        map: &'a Map<String, Json>,
        scope: &Scope<'_, 'a>,
        depth: usize,
    ) -> Result<Val<'a>, CertsError> {
        let (operator, operand) = single_entry(map)?;
        if operator == "var" {
            return read_var(operand, scope);
        }
        let Json::Array(operands) = operand else {
            return Err(invalid(format!(
                "operation {operator:?} not of the form {{ \"<operator>\": [ <values...> ] }}"
            )));
        };
        let depth = depth + 1;
        match operator.as_str() {
            "if" => {
                let [guard, then, otherwise] = exactly::<3>(operator, operands)?;
                match truthiness(&self.eval(guard, scope, depth)?) {
                    Some(true) => self.eval(then, scope, depth),
                    Some(false) => self.eval(otherwise, scope, depth),
                    None => Err(invalid("an if guard is neither truthy nor falsy")),
                }
            }
            "!" => {
                let [operand] = exactly::<1>(operator, operands)?;
                match truthiness(&self.eval(operand, scope, depth)?) {
                    Some(truthy) => Ok(Val::bool(!truthy)),
                    None => Err(invalid("a ! operand is neither truthy nor falsy")),
                }
            }
            "and" => {
                if operands.len() < 2 {
                    return Err(invalid("an and takes at least 2 operands"));
                }
                let mut last = Val::Borrowed(&NULL);
                for operand in operands {
                    last = self.eval(operand, scope, depth)?;
                    match truthiness(&last) {
                        Some(true) => {}
                        Some(false) => return Ok(last),
                        None => return Err(invalid("an and operand is neither truthy nor falsy")),
                    }
                }
                Ok(last)
            }
            "===" => {
                let [left, right] = exactly::<2>(operator, operands)?;
                let left = self.eval(left, scope, depth)?;
                let right = self.eval(right, scope, depth)?;
                Ok(Val::bool(strictly_equal(&left, &right)))
            }
            "in" => {
                let [item, list] = exactly::<2>(operator, operands)?;
                let item = self.eval(item, scope, depth)?;
                let list = self.eval(list, scope, depth)?;
                let found = match (&list, list.json()) {
                    (_, Some(Json::Array(members))) => item.json().is_some_and(|item| {
                        members
                            .iter()
                            .any(|member| strictly_equal_json(item, member))
                    }),
                    (Val::List(members), _) => {
                        members.iter().any(|member| strictly_equal(&item, member))
                    }
                    (_, Some(Json::Null)) => false,
                    _ => return Err(invalid("the right operand of in is not an array")),
                };
                Ok(Val::bool(found))
            }
            "+" => {
                let [left, right] = exactly::<2>(operator, operands)?;
                let left = self.integer_operand(left, scope, depth, "+")?;
                let right = self.integer_operand(right, scope, depth, "+")?;
                let sum = left
                    .checked_add(right)
                    .ok_or_else(|| invalid("a + overflows"))?;
                Ok(Val::Computed(Json::from(sum)))
            }
            ">" | "<" | ">=" | "<=" => {
                let (values, count) = self.compared(operator, operands, scope, depth, |value| {
                    value.json().and_then(integer)
                })?;
                Ok(Val::bool(holds(
                    operator,
                    values.get(..count).unwrap_or(&[]),
                )))
            }
            "after" | "before" | "not-after" | "not-before" => {
                let (values, count) =
                    self.compared(operator, operands, scope, depth, |value| match value {
                        Val::DateTime(millis) => Some(*millis),
                        Val::Borrowed(_) | Val::Computed(_) | Val::List(_) => None,
                    })?;
                let as_integer = match operator.as_str() {
                    "after" => ">",
                    "before" => "<",
                    "not-after" => "<=",
                    _ => ">=",
                };
                Ok(Val::bool(holds(
                    as_integer,
                    values.get(..count).unwrap_or(&[]),
                )))
            }
            "plusTime" => {
                let [date, amount, unit] = exactly::<3>(operator, operands)?;
                let amount = integer(amount)
                    .ok_or_else(|| invalid("the amount of a plusTime is not an integer"))?;
                let unit = match unit {
                    Json::String(unit) => TimeUnit::parse(unit)?,
                    _ => return Err(invalid("the time unit of a plusTime is not a string")),
                };
                let date = self.eval(date, scope, depth)?;
                let Some(Json::String(date)) = date.json() else {
                    return Err(invalid("the date-time of a plusTime is not a string"));
                };
                let millis = parse_date_time(date)?;
                Ok(Val::DateTime(plus_time(millis, amount, unit)?))
            }
            "dccDateOfBirth" => {
                let [date] = exactly::<1>(operator, operands)?;
                let date = self.eval(date, scope, depth)?;
                let Some(Json::String(date)) = date.json() else {
                    return Err(invalid(
                        "the date of birth of a dccDateOfBirth is not a string",
                    ));
                };
                Ok(Val::DateTime(parse_date_of_birth(date)?))
            }
            "extractFromUVCI" => {
                let [uci, index] = exactly::<2>(operator, operands)?;
                let index = integer(index)
                    .ok_or_else(|| invalid("the index of an extractFromUVCI is not an integer"))?;
                match self.eval(uci, scope, depth)?.json() {
                    Some(Json::Null) => Ok(Val::Borrowed(&NULL)),
                    Some(Json::String(uci)) => Ok(Val::Computed(
                        uci_fragment(uci, index).map_or(Json::Null, Json::from),
                    )),
                    _ => Err(invalid("the operand of an extractFromUVCI is not a string")),
                }
            }
            "reduce" => {
                let [list, lambda, initial] = exactly::<3>(operator, operands)?;
                let list = self.eval(list, scope, depth)?;
                let accumulator = self.eval(initial, scope, depth)?;
                let data = scope.data();
                match list {
                    Val::Borrowed(Json::Array(items)) => self.fold(
                        items.iter().map(Val::Borrowed),
                        lambda,
                        accumulator,
                        data,
                        depth,
                    ),
                    Val::List(items) => {
                        self.fold(items.into_iter(), lambda, accumulator, data, depth)
                    }
                    // Items copied out of computed data live only as long as this fold: so
                    // does what the fold reads of them, until the result is made to own it.
                    Val::Computed(Json::Array(items)) => Ok(self
                        .fold(
                            items.iter().map(Val::Borrowed),
                            lambda,
                            accumulator,
                            data,
                            depth,
                        )?
                        .into_static()),
                    Val::Borrowed(Json::Null) | Val::Computed(Json::Null) => Ok(accumulator),
                    _ => Err(invalid("the operand of a reduce is not an array")),
                }
            }
            other => Err(invalid(format!("unrecognised operator: {other:?}"))),
        }
    }

    /// `lambda` folded over `items` from `accumulator`.
    fn fold<'a>(
        &mut self,
        items: impl Iterator<Item = Val<'a>>,
        lambda: &'a Json,
        mut accumulator: Val<'a>,
        data: Data<'a>,
        depth: usize,
    ) -> Result<Val<'a>, CertsError> {
        for item in items {
            accumulator = self.eval(
                lambda,
                &Scope::Reduce {
                    current: &item,
                    accumulator: &accumulator,
                    data,
                },
                depth,
            )?;
        }
        Ok(accumulator)
    }

    fn integer_operand<'a>(
        &mut self,
        operand: &'a Json,
        scope: &Scope<'_, 'a>,
        depth: usize,
        operator: &str,
    ) -> Result<i64, CertsError> {
        self.eval(operand, scope, depth)?
            .json()
            .and_then(integer)
            .ok_or_else(|| invalid(format!("an operand of {operator} is not an integer")))
    }

    /// The 2 or 3 operands of a comparison, each as `extract` reads it, and how many.
    fn compared<'a>(
        &mut self,
        operator: &str,
        operands: &'a [Json],
        scope: &Scope<'_, 'a>,
        depth: usize,
        extract: impl Fn(&Val<'a>) -> Option<i64>,
    ) -> Result<([i64; 3], usize), CertsError> {
        if !(2..=3).contains(&operands.len()) {
            return Err(invalid(format!("a {operator} takes 2 or 3 operands")));
        }
        let mut values = [0; 3];
        for (slot, operand) in values.iter_mut().zip(operands) {
            let value = self.eval(operand, scope, depth)?;
            *slot = extract(&value).ok_or_else(|| {
                invalid(format!(
                    "an operand of {operator} is not of the type it compares"
                ))
            })?;
        }
        Ok((values, operands.len()))
    }
}

/// The one key and value of an operation object.
fn single_entry(map: &Map<String, Json>) -> Result<(&String, &Json), CertsError> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some(entry), None) => Ok(entry),
        _ => Err(invalid(format!(
            "expression object must have exactly one key, but it has {}",
            map.len()
        ))),
    }
}

fn exactly<'a, const N: usize>(
    operator: &str,
    operands: &'a [Json],
) -> Result<&'a [Json; N], CertsError> {
    operands.try_into().map_err(|_| {
        invalid(format!(
            "a {operator} takes {N} operand(s), not {}",
            operands.len()
        ))
    })
}

/// `a op b` (and `b op c` for three).
fn holds(operator: &str, values: &[i64]) -> bool {
    values
        .iter()
        .zip(values.iter().skip(1))
        .all(|(a, b)| match operator {
            ">" => a > b,
            "<" => a < b,
            ">=" => a >= b,
            _ => a <= b,
        })
}

fn strictly_equal(left: &Val<'_>, right: &Val<'_>) -> bool {
    match (left.json(), right.json()) {
        (Some(left), Some(right)) => strictly_equal_json(left, right),
        _ => false,
    }
}

fn strictly_equal_json(left: &Json, right: &Json) -> bool {
    match (left, right) {
        (Json::Number(_), Json::Number(_)) => match (integer(left), integer(right)) {
            (Some(a), Some(b)) => a == b,
            _ => left.as_f64() == right.as_f64(),
        },
        (Json::Array(_) | Json::Object(_), _) | (_, Json::Array(_) | Json::Object(_)) => false,
        _ => left == right,
    }
}

/// `{ "var": "<path>" }` read in `scope`, in place wherever it can be.
fn read_var<'a>(path: &'a Json, scope: &Scope<'_, 'a>) -> Result<Val<'a>, CertsError> {
    let number;
    let path = match path {
        Json::String(path) => path.as_str(),
        Json::Number(_) if integer(path).is_some() => {
            number = path.to_string();
            number.as_str()
        }
        _ => return Err(invalid("not of the form { \"var\": \"<path>\" }")),
    };
    let found = match scope {
        Scope::Data(data) if path.is_empty() => Some(data.whole()),
        Scope::Data(data) => data.at(path),
        Scope::Reduce {
            current,
            accumulator,
            data,
        } => {
            let (first, rest) = match path.split_once('.') {
                Some((first, rest)) => (first, Some(rest)),
                None => (path, None),
            };
            let fragments = rest.into_iter().flat_map(|rest| rest.split('.'));
            match first {
                "" if rest.is_none() => Some(Val::Computed(serde_json::json!({
                    "current": (*current).clone().into_json(),
                    "accumulator": (*accumulator).clone().into_json(),
                    "data": data.whole().into_json(),
                }))),
                "current" => current.walk(fragments),
                "accumulator" => accumulator.walk(fragments),
                "data" => match rest {
                    None => Some(data.whole()),
                    Some(rest) => data.at(rest),
                },
                _ => None,
            }
        }
    };
    Ok(found.unwrap_or(Val::Borrowed(&NULL)))
}

/// One step into `json`: a key of an object, an index of an array.
fn drill<'a>(json: &'a Json, fragment: &str) -> Option<&'a Json> {
    match json {
        Json::Object(map) => map.get(fragment),
        Json::Array(items) => fragment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

/// The fragment `index` of a UCI split on `/`, `#` and `:`, its `URN:UVCI:` prefix left out.
fn uci_fragment(uci: &str, index: i64) -> Option<String> {
    let uci = uci.strip_prefix("URN:UVCI:").unwrap_or(uci);
    let index = usize::try_from(index).ok()?;
    uci.split(['/', '#', ':']).nth(index).map(str::to_owned)
}

#[derive(Debug, Clone, Copy)]
enum TimeUnit {
    Year,
    Month,
    Day,
    Hour,
}

impl TimeUnit {
    fn parse(unit: &str) -> Result<Self, CertsError> {
        match unit {
            "year" => Ok(TimeUnit::Year),
            "month" => Ok(TimeUnit::Month),
            "day" => Ok(TimeUnit::Day),
            "hour" => Ok(TimeUnit::Hour),
            other => Err(invalid(format!("not a time unit of plusTime: {other:?}"))),
        }
    }
}

const DAY_MILLIS: i64 = 86_400_000;
const HOUR_MILLIS: i64 = 3_600_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (month and day may run over, as
/// JavaScript's `Date.UTC` lets them).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Normalise the month into 1..=12 first, carrying into the year.
    let year = year + (month - 1).div_euclid(12);
    let month = (month - 1).rem_euclid(12) + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (day - 1)
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn last_day_of_month(year: i64, month: i64) -> i64 {
    days_from_civil(year, month + 1, 1) - days_from_civil(year, month, 1)
}

/// `millis` offset by `amount` units, as JavaScript's `setUTC…` methods do (a day that does
/// not exist in the target month runs over into the next).
fn plus_time(millis: i64, amount: i64, unit: TimeUnit) -> Result<i64, CertsError> {
    let overflow = || invalid("a plusTime runs out of the calendar");
    let days = millis.div_euclid(DAY_MILLIS);
    let time = millis.rem_euclid(DAY_MILLIS);
    let shifted_days = |years: i64, months: i64| -> Result<i64, CertsError> {
        let (year, month, day) = civil_from_days(days);
        let year = year.checked_add(years).ok_or_else(overflow)?;
        let month = month.checked_add(months).ok_or_else(overflow)?;
        if year.abs() > 275_000 || month.abs() > 3_300_000 {
            return Err(overflow());
        }
        Ok(days_from_civil(year, month, day))
    };
    let result = match unit {
        TimeUnit::Year => shifted_days(amount, 0)?
            .checked_mul(DAY_MILLIS)
            .and_then(|m| m.checked_add(time)),
        TimeUnit::Month => shifted_days(0, amount)?
            .checked_mul(DAY_MILLIS)
            .and_then(|m| m.checked_add(time)),
        TimeUnit::Day => amount
            .checked_mul(DAY_MILLIS)
            .and_then(|m| millis.checked_add(m)),
        TimeUnit::Hour => amount
            .checked_mul(HOUR_MILLIS)
            .and_then(|m| millis.checked_add(m)),
    };
    result.ok_or_else(overflow)
}

/// Digits of a fixed width at the start of `text`, and the rest.
fn digits(text: &str, width: usize) -> Option<(i64, &str)> {
    let (head, rest) = text.split_at_checked(width)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, rest))
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` as the last day it can mean, at midnight UTC.
fn parse_date_of_birth(text: &str) -> Result<i64, CertsError> {
    parse_date(text)
        .filter(|(_, rest)| rest.is_empty())
        .map(|(days, _)| days * DAY_MILLIS)
        .ok_or_else(|| invalid(format!("not a date of birth (YYYY[-MM[-DD]]): {text:?}")))
}

/// A date at the start of `text` (partial dates as their last day), as days since the epoch,
/// and the rest of the text.
fn parse_date(text: &str) -> Option<(i64, &str)> {
    let (year, rest) = digits(text, 4)?;
    let Some(rest) = rest.strip_prefix('-') else {
        return Some((days_from_civil(year, 12, 31), rest));
    };
    let (month, rest) = digits(rest, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return Some((
            days_from_civil(year, month, last_day_of_month(year, month)),
            rest,
        ));
    };
    let (day, rest) = digits(rest, 2)?;
    if !(1..=last_day_of_month(year, month)).contains(&day) {
        return None;
    }
    Some((days_from_civil(year, month, day), rest))
}

/// One of the date and date-time formats `plusTime` takes, as milliseconds since the epoch
/// (no offset: UTC; decimals past the millisecond dropped).
fn parse_date_time(text: &str) -> Result<i64, CertsError> {
    let bad = || invalid(format!("not a date-time plusTime takes: {text:?}"));
    let (days, rest) = parse_date(text).ok_or_else(bad)?;
    if rest.is_empty() {
        return Ok(days * DAY_MILLIS);
    }
    let rest = rest.strip_prefix('T').ok_or_else(bad)?;
    let (hour, rest) = digits(rest, 2).ok_or_else(bad)?;
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let (minute, rest) = digits(rest, 2).ok_or_else(bad)?;
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let (second, mut rest) = digits(rest, 2).ok_or_else(bad)?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return Err(bad());
        }
        let (decimals, after) = fraction.split_at_checked(end).ok_or_else(bad)?;
        let kept = decimals.get(..end.min(3)).ok_or_else(bad)?;
        millis = format!("{kept:0<3}").parse::<i64>().map_err(|_| bad())?;
        rest = after;
    }
    let offset_minutes = match rest {
        "" | "Z" => 0,
        _ => {
            let (sign, offset) = if let Some(offset) = rest.strip_prefix('+') {
                (1, offset)
            } else if let Some(offset) = rest.strip_prefix('-') {
                (-1, offset)
            } else {
                return Err(bad());
            };
            let (hours, minutes) = match offset.split_once(':') {
                Some((h, m)) if (1..=2).contains(&h.len()) && m.len() == 2 => (h, m),
                Some(_) => return Err(bad()),
                None => match offset.len() {
                    1 | 2 => (offset, "00"),
                    3 => offset.split_at_checked(1).ok_or_else(bad)?,
                    4 => offset.split_at_checked(2).ok_or_else(bad)?,
                    _ => return Err(bad()),
                },
            };
            let parse = |part: &str| {
                part.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| part.parse::<i64>().ok())
                    .flatten()
            };
            let (hours, minutes) = parse(hours).zip(parse(minutes)).ok_or_else(bad)?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            sign * (hours * 60 + minutes)
        }
    };
    Ok(days * DAY_MILLIS + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis)
}

/// ISO 8601 in UTC with milliseconds: `2021-06-02T16:00:00.000Z`.
fn format_date_time(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(DAY_MILLIS));
    let time = millis.rem_euclid(DAY_MILLIS);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        time / HOUR_MILLIS,
        time / 60_000 % 60,
        time / 1000 % 60,
        time % 1000
    )
}

/// One thing wrong with an expression, where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// The (sub-)expression at fault.
    pub expr: Json,
    /// What is wrong with it.
    pub message: String,
}

/// Says what is wrong with `expression` as CertLogic, without evaluating it: nothing for a
/// well-formed rule. Nested deeper than [`MAX_DEPTH`], it says so and looks no deeper.
#[must_use]
pub fn validate(expression: &Json) -> Vec<Issue> {
    let mut issues = Vec::new();
    validate_into(expression, 0, &mut issues);
    issues
}

fn validate_into(expression: &Json, depth: usize, issues: &mut Vec<Issue>) {
    let mut issue = |message: String| {
        issues.push(Issue {
            expr: expression.clone(),
            message,
        });
    };
    if depth > MAX_DEPTH {
        issue(format!("nested deeper than {MAX_DEPTH}"));
        return;
    }
    match expression {
        Json::Null => issue("invalid CertLogic expression".into()),
        Json::Bool(_) | Json::String(_) => {}
        Json::Number(_) => {
            if integer(expression).is_none() {
                issue(format!("{expression} is a non-integer number"));
            }
        }
        Json::Array(items) => {
            for item in items {
                validate_into(item, depth + 1, issues);
            }
        }
        Json::Object(map) => {
            if map.len() != 1 {
                issue(format!(
                    "expression object must have exactly one key, but it has {}",
                    map.len()
                ));
                return;
            }
            let Some((operator, operand)) = map.iter().next() else {
                return;
            };
            if operator == "var" {
                match operand {
                    Json::String(path) if is_valid_path(path) => {}
                    Json::String(path) => {
                        issue(format!(
                            "data access path doesn't have a valid format: {path}"
                        ));
                    }
                    _ => issue("not of the form { \"var\": \"<path>\" }".into()),
                }
                return;
            }
            let Json::Array(operands) = operand else {
                issue("operation not of the form { \"<operator>\": [ <values...> ] }".into());
                return;
            };
            let counts: &[usize] = match operator.as_str() {
                "if" | "plusTime" | "reduce" => &[3],
                "!" | "dccDateOfBirth" => &[1],
                "===" | "in" | "+" | "extractFromUVCI" => &[2],
                ">" | "<" | ">=" | "<=" | "after" | "before" | "not-after" | "not-before" => {
                    &[2, 3]
                }
                "and" => &[],
                _ => {
                    issue(format!("unrecognised operator: {operator:?}"));
                    return;
                }
            };
            if operator == "and" && operands.len() < 2 {
                issue(format!(
                    "an and takes at least 2 operands, not {}",
                    operands.len()
                ));
            } else if !counts.is_empty() && !counts.contains(&operands.len()) {
                issue(format!(
                    "a {operator} takes {} operand(s), not {}",
                    counts
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    operands.len()
                ));
            }
            match (operator.as_str(), operands.as_slice()) {
                ("plusTime", [date, amount, unit]) => {
                    validate_into(date, depth + 1, issues);
                    if integer(amount).is_none() {
                        issues.push(Issue {
                            expr: amount.clone(),
                            message: "the amount of a plusTime is not an integer literal".into(),
                        });
                    }
                    if !matches!(unit.as_str(), Some("year" | "month" | "day" | "hour")) {
                        issues.push(Issue {
                            expr: unit.clone(),
                            message: "the time unit of a plusTime is not year, month, day or hour"
                                .into(),
                        });
                    }
                }
                ("extractFromUVCI", [uci, index]) => {
                    validate_into(uci, depth + 1, issues);
                    if integer(index).is_none() {
                        issues.push(Issue {
                            expr: index.clone(),
                            message: "the index of an extractFromUVCI is not an integer literal"
                                .into(),
                        });
                    }
                }
                _ => {
                    for operand in operands {
                        validate_into(operand, depth + 1, issues);
                    }
                }
            }
        }
    }
}

/// A `var` path: empty, or fragments of letters, digits, `_` and `-` joined by `.`.
fn is_valid_path(path: &str) -> bool {
    path.is_empty()
        || path.split('.').all(|fragment| {
            !fragment.is_empty()
                && fragment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_offset_as_javascript_does() {
        let at = |text| parse_date_time(text).unwrap();
        assert_eq!(
            format_date_time(plus_time(at("2020-02-29"), 1, TimeUnit::Day).unwrap()),
            "2020-03-01T00:00:00.000Z"
        );
        assert_eq!(
            format_date_time(plus_time(at("2020-02-29"), 1, TimeUnit::Month).unwrap()),
            "2020-03-29T00:00:00.000Z"
        );
        assert_eq!(
            format_date_time(plus_time(at("2020-02-29"), 1, TimeUnit::Year).unwrap()),
            "2021-03-01T00:00:00.000Z"
        );
        assert_eq!(
            format_date_time(at("2021-06-01T10:00:00.123456+02:30")),
            "2021-06-01T07:30:00.123Z"
        );
        assert_eq!(at("2021-06-01T10:00:00-1"), at("2021-06-01T11:00:00Z"));
        assert_eq!(at("2021-06-01T10:00:00+130"), at("2021-06-01T08:30:00Z"));
        assert_eq!(format_date_time(at("2004-02")), "2004-02-29T00:00:00.000Z");
        assert_eq!(format_date_time(at("2004")), "2004-12-31T00:00:00.000Z");
        for bad in [
            "2021-13",
            "2021-02-30",
            "21-01-01",
            "2021-01-01T25:00:00",
            "2021-01-01T10:00:00+",
            "x",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
        assert!(plus_time(0, i64::MAX, TimeUnit::Day).is_err());
        assert!(plus_time(0, i64::MAX, TimeUnit::Year).is_err());
    }

    #[test]
    fn hostile_rules_meet_the_budget_and_the_depth_limit() {
        // Nested 120 deep (serde_json parses at most 128): refused at the depth limit.
        let mut deep = Json::from(1);
        for _ in 0..120 {
            deep = serde_json::json!({ "!": [deep] });
        }
        assert!(matches!(
            evaluate(&deep, &Json::Null),
            Err(CertsError::RuleLimit(_))
        ));
        assert!(
            validate(&deep)
                .iter()
                .any(|i| i.message.contains("nested deeper"))
        );
        // A reduce over 200,000 items: stopped by the step budget.
        let items: Vec<Json> = (0..200_000).map(Json::from).collect();
        let fold = serde_json::json!({
            "reduce": [{ "var": "x" }, { "+": [{ "var": "accumulator" }, { "var": "current" }] }, 0]
        });
        assert!(matches!(
            evaluate(&fold, &serde_json::json!({ "x": items })),
            Err(CertsError::RuleLimit(_))
        ));
        // Wrong types are typed errors, in words.
        for rule in [
            serde_json::json!({ "+": ["a", 1] }),
            serde_json::json!({ "if": [1.5, 1, 2] }),
            serde_json::json!({ "in": [1, "abc"] }),
            serde_json::json!({ "after": [1, 2] }),
            serde_json::json!({ "plusTime": ["2021-01-01", 1, "week"] }),
            serde_json::json!({ "nope": [] }),
            serde_json::json!({ "+": [9_223_372_036_854_775_807_i64, 1] }),
        ] {
            assert!(
                matches!(evaluate(&rule, &Json::Null), Err(CertsError::Rule(_))),
                "{rule}"
            );
        }
    }
}

#[cfg(test)]
mod data_tests {
    use super::*;

    #[test]
    fn gateway_data_reads_the_value_sets_in_place_and_whole_when_asked() {
        let payload = serde_json::json!({"t": [{"tt": "LP6464-4"}]});
        let external = serde_json::json!({"countryCode": "FR"});
        let value_sets = serde_json::json!({"covid-19-lab-test-type": ["LP6464-4"]});
        let data = Data::Gateway {
            payload: &payload,
            external: &external,
            value_sets: &value_sets,
        };
        let rule = serde_json::json!({"in": [{"var": "payload.t.0.tt"},
            {"var": "external.valueSets.covid-19-lab-test-type"}]});
        assert_eq!(
            evaluate_in(&rule, data).unwrap().into_json(),
            Json::Bool(true)
        );
        let whole = serde_json::json!({"var": "external"});
        assert_eq!(
            evaluate_in(&whole, data).unwrap().into_json(),
            serde_json::json!({"countryCode": "FR", "valueSets": value_sets})
        );
        let everything = evaluate_in(&serde_json::json!({"var": ""}), data).unwrap();
        assert_eq!(everything.into_json()["payload"], payload);
        let inside_reduce =
            serde_json::json!({"reduce": [[1], {"var": "data.external.countryCode"}, 0]});
        assert_eq!(
            evaluate_in(&inside_reduce, data).unwrap().into_json(),
            Json::from("FR")
        );
        let absent = serde_json::json!({"var": "other.thing"});
        assert_eq!(evaluate_in(&absent, data).unwrap().into_json(), Json::Null);
    }
}

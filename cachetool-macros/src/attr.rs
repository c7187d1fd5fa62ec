//! The options of `#[cached(...)]`, parsed into typed syntax.
//!
//! Each option keeps the tokens the user wrote (`Expr`, `LitInt`, `LitStr`,
//! `LitBool`, `Ident`), so that every later error points at them. Only the
//! shape of each option is checked here; checks against the function are in
//! `valid.rs`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use syn::ext::IdentExt as _;
use syn::parse::{ParseStream, Parser as _};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitBool, LitInt, LitStr, Token, UnOp};

use crate::ast::Function;
use crate::errors::Errors;

/// The option names, for the "unknown option" message.
const OPTION_NAMES: &str = "`ttl`, `jitter`, `stale`, `refresh_ahead`, `fail_safe`, `tags`, `key`, `cache`, `skip`, `name`, `version`, `lock`, `unless`, `companions`, `off`";

/// Everything written between the parentheses of `#[cached(...)]`.
#[derive(Default, Clone)]
pub(crate) struct Options {
    /// `ttl = 600` or `ttl = <Duration expression>`.
    pub(crate) ttl: Opt<Ttl>,
    /// `jitter = 0.1`: each entry's TTL drawn within this fraction of it.
    pub(crate) jitter: Opt<Fraction>,
    /// `stale = 60`: how long after its TTL an entry is served while it is
    /// recomputed in the background.
    pub(crate) stale: Opt<Period>,
    /// `refresh_ahead = 0.8`: the fraction of its TTL after which a hit also
    /// starts a recomputation in the background.
    pub(crate) refresh_ahead: Opt<Fraction>,
    /// `fail_safe = 3600`: how long after its TTL an entry answers a failed body.
    pub(crate) fail_safe: Opt<Period>,
    /// `tags = [<expr>, ...]`.
    pub(crate) tags: Opt<Tags>,
    /// `key = <expr>`: replaces the hash of the arguments.
    pub(crate) key: Opt<Expr>,
    /// `cache = <expr>`: something that derefs to `cachetool::Cache`.
    pub(crate) cache: Opt<Expr>,
    /// `skip(arg, ...)`: arguments left out of the key.
    pub(crate) skip: Opt<Skip>,
    /// `name = "..."`: the function's identity in keys.
    pub(crate) name: Opt<LitStr>,
    /// `version = N`.
    pub(crate) version: Opt<Version>,
    /// `lock = false` turns off single-flight.
    pub(crate) lock: Opt<LitBool>,
    /// `unless = |value| ...`: values for which this is true are not stored.
    pub(crate) unless: Opt<Unless>,
    /// `companions = false` or `companions = [invalidate, peek]`.
    pub(crate) companions: Opt<Companions>,
    /// `off`: a method of a `#[cached]` impl block left uncached.
    pub(crate) off: Opt<Off>,
}

impl Options {
    /// The argument names listed in `skip(...)`.
    pub(crate) fn skipped(&self) -> &[Ident] {
        self.skip.value().map_or(&[], |skip| &skip.args)
    }
}

/// One option: the keyword where the user set it, and its value unless the
/// value was malformed (that error is already recorded).
#[derive(Clone)]
pub(crate) struct Opt<T> {
    keyword: Option<Ident>,
    value: Option<T>,
}

impl<T> Default for Opt<T> {
    fn default() -> Self {
        Opt {
            keyword: None,
            value: None,
        }
    }
}

impl<T> Opt<T> {
    /// The keyword, if the option was written at all.
    pub(crate) fn keyword(&self) -> Option<&Ident> {
        self.keyword.as_ref()
    }

    /// The value, if the option was written and well-formed.
    pub(crate) fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// This option, or `default`'s where it was not written: how a method's
    /// option replaces its impl block's.
    fn or(self, default: &Opt<T>) -> Opt<T>
    where
        T: Clone,
    {
        match self.keyword {
            Some(_) => self,
            None => default.clone(),
        }
    }
}

impl<T: OptionValue> Opt<T> {
    /// Parses the value after `keyword` and stores it; the one duplicate check
    /// for every option.
    fn parse(&mut self, keyword: Ident, input: ParseStream<'_>, errors: &mut Errors) {
        let value = match T::parse(&keyword, input) {
            Ok(value) => Some(value),
            Err(error) => {
                errors.push(error);
                skip_to_comma(input);
                None
            }
        };
        if self.keyword.is_some() {
            errors.error(&keyword, format!("duplicate option `{keyword}`"));
            return;
        }
        self.keyword = Some(keyword);
        self.value = value;
    }
}

/// How one option's value is written and read.
pub(crate) trait OptionValue: Sized {
    /// Reads the expression after `=`; errors point into it.
    fn from_expr(expr: Expr) -> syn::Result<Self>;

    /// Reads the expression after `keyword =`, for values whose errors name
    /// their option (`jitter`, `fail_safe`); else as [`from_expr`](OptionValue::from_expr).
    fn from_named_expr(keyword: &Ident, expr: Expr) -> syn::Result<Self> {
        let _ = keyword;
        Self::from_expr(expr)
    }

    /// Reads what follows the keyword: `= <expr>` unless overridden.
    fn parse(keyword: &Ident, input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                keyword.span(),
                format!("expected `{keyword} = ...`"),
            ));
        }
        input.parse::<Token![=]>()?;
        Self::from_named_expr(keyword, ungroup(parse_expr(input)?))
    }
}

/// `ttl = ...`.
#[derive(Clone)]
pub(crate) enum Ttl {
    /// `ttl = 600`: whole seconds.
    Secs {
        /// As written.
        lit: LitInt,
        /// Its value.
        secs: u64,
    },
    /// `ttl = <expr>`: must be a `std::time::Duration`, which the compiler checks.
    Duration(Expr),
    /// `ttl = |value| ...`: each value's own TTL, a `Duration`.
    Closure(Expr),
}

impl OptionValue for Ttl {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        const MESSAGE: &str = "`ttl` must be whole seconds (`ttl = 600`) or a `std::time::Duration` (`ttl = Duration::from_millis(1500)`)";
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(secs),
                ..
            }) => {
                let value = secs.base10_parse::<u64>()?;
                Ok(Ttl::Secs {
                    lit: secs,
                    secs: value,
                })
            }
            Expr::Lit(ExprLit { lit, .. }) => Err(syn::Error::new_spanned(lit, MESSAGE)),
            Expr::Unary(ExprUnary {
                op: UnOp::Neg(_),
                expr: operand,
                ..
            }) if matches!(*operand, Expr::Lit(_)) => {
                Err(syn::Error::new_spanned(operand, "`ttl` can't be negative"))
            }
            Expr::Closure(closure) => Ok(Ttl::Closure(Expr::Closure(closure))),
            expr => Ok(Ttl::Duration(expr)),
        }
    }
}

/// A fraction strictly between 0 and 1, written as a float literal:
/// `jitter = 0.1`.
#[derive(Clone)]
pub(crate) struct Fraction {
    /// As written.
    pub(crate) lit: syn::LitFloat,
    /// Its value.
    pub(crate) value: f64,
}

impl Fraction {
    /// Reads `expr` as the fraction of the option `name`.
    fn parse_for(name: &str, expr: Expr) -> syn::Result<Fraction> {
        let message =
            format!("`{name}` must be a fraction between 0 and 1 (exclusive): `{name} = 0.1`");
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Float(lit),
                ..
            }) => {
                let value = lit.base10_parse::<f64>()?;
                match value > 0.0 && value < 1.0 {
                    true => Ok(Fraction { lit, value }),
                    false => Err(syn::Error::new_spanned(lit, message)),
                }
            }
            expr => Err(syn::Error::new_spanned(expr, message)),
        }
    }
}

impl OptionValue for Fraction {
    fn from_expr(_: Expr) -> syn::Result<Self> {
        unreachable!("a fraction is read with its option's name (`from_named_expr`)")
    }

    fn from_named_expr(keyword: &Ident, expr: Expr) -> syn::Result<Self> {
        Fraction::parse_for(&keyword.to_string(), expr)
    }
}

/// A duration option other than `ttl`: `fail_safe = 3600` (whole seconds)
/// or `fail_safe = Duration::from_secs(90)`.
#[derive(Clone)]
pub(crate) enum Period {
    /// Whole seconds, as written.
    Secs(LitInt),
    /// Must be a `std::time::Duration`, which the compiler checks.
    Duration(Expr),
}

impl OptionValue for Period {
    fn from_expr(_: Expr) -> syn::Result<Self> {
        unreachable!("a period is read with its option's name (`from_named_expr`)")
    }

    fn from_named_expr(keyword: &Ident, expr: Expr) -> syn::Result<Self> {
        let message = format!("`{keyword}` must be whole seconds (`{keyword} = 3600`) or a `std::time::Duration` (`{keyword} = Duration::from_secs(90)`)");
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(secs),
                ..
            }) => {
                secs.base10_parse::<u64>()?;
                Ok(Period::Secs(secs))
            }
            Expr::Unary(ExprUnary {
                op: UnOp::Neg(_),
                expr: operand,
                ..
            }) if matches!(*operand, Expr::Lit(_)) => Err(syn::Error::new_spanned(
                operand,
                format!("`{keyword}` can't be negative"),
            )),
            expr @ (Expr::Lit(_) | Expr::Closure(_)) => Err(syn::Error::new_spanned(expr, message)),
            expr => Ok(Period::Duration(expr)),
        }
    }
}

/// `tags = [<expr>, ...]`.
#[derive(Clone)]
pub(crate) struct Tags {
    /// One expression per tag; each must read as a string (`TagName`).
    pub(crate) exprs: Punctuated<Expr, Token![,]>,
}

impl OptionValue for Tags {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Array(array) => Ok(Tags { exprs: array.elems }),
            expr => Err(syn::Error::new_spanned(
                expr,
                "`tags` must be an array: `tags = [\"users\", format!(\"user:{id}\")]`",
            )),
        }
    }
}

impl OptionValue for Expr {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        Ok(expr)
    }
}

/// `skip(arg, ...)`.
#[derive(Clone)]
pub(crate) struct Skip {
    /// The argument names, as written.
    pub(crate) args: Vec<Ident>,
}

impl OptionValue for Skip {
    fn from_expr(_: Expr) -> syn::Result<Self> {
        unreachable!("`skip` has its own `parse`")
    }

    fn parse(keyword: &Ident, input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                keyword.span(),
                "expected `skip(argument, ...)`",
            ));
        }
        // Parsed on its own so that a malformed list can't derail the other options.
        let group: Group = input.parse()?;
        let exprs = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(group.stream())?;
        let mut errors = Errors::default();
        let mut args = Vec::new();
        for expr in exprs {
            match ungroup(expr) {
                Expr::Path(path) if path.attrs.is_empty() && path.qself.is_none() => {
                    match path.path.get_ident() {
                        Some(ident) => args.push(ident.clone()),
                        None => errors.error(path, "`skip` takes argument names: `skip(db)`"),
                    }
                }
                expr => errors.error(expr, "`skip` takes argument names: `skip(db)`"),
            }
        }
        errors.finish()?;
        Ok(Skip { args })
    }
}

impl OptionValue for LitStr {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(name),
                ..
            }) => Ok(name),
            expr => Err(syn::Error::new_spanned(
                expr,
                "`name` must be a string literal: `name = \"users.load\"`",
            )),
        }
    }
}

/// `version = N`.
#[derive(Clone)]
pub(crate) struct Version {
    /// As written.
    pub(crate) lit: LitInt,
    /// Its value.
    pub(crate) value: u32,
}

impl OptionValue for Version {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit), ..
            }) => {
                let value = lit.base10_parse::<u32>()?;
                Ok(Version { lit, value })
            }
            expr => Err(syn::Error::new_spanned(
                expr,
                "`version` must be an integer literal (a `u32`): `version = 2`",
            )),
        }
    }
}

impl OptionValue for LitBool {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(lock),
                ..
            }) => Ok(lock),
            expr => Err(syn::Error::new_spanned(
                expr,
                "`lock` must be `true` or `false`",
            )),
        }
    }
}

/// `unless = <expr>`: a closure (or function) given a reference to the value
/// (the `Ok` value of a `Result`), true when the value must not be stored.
#[derive(Clone)]
pub(crate) struct Unless {
    /// As written: its type errors point into it.
    pub(crate) expr: Expr,
}

impl OptionValue for Unless {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(lit) => Err(syn::Error::new_spanned(
                lit,
                "`unless` takes a closure given the value: `unless = |value| value.is_empty()`",
            )),
            expr => Ok(Unless { expr }),
        }
    }
}

/// The generated companions, by name.
#[derive(Clone, Copy)]
pub(crate) struct Companions {
    /// `{name}_invalidate`.
    pub(crate) invalidate: bool,
    /// `{name}_refresh`.
    pub(crate) refresh: bool,
    /// `{name}_peek`.
    pub(crate) peek: bool,
    /// `{name}_many`.
    pub(crate) many: bool,
    /// Named in a list, rather than all by `true`.
    pub(crate) listed: bool,
}

impl Companions {
    const ALL: Companions = Companions {
        invalidate: true,
        refresh: true,
        peek: true,
        many: true,
        listed: false,
    };
    /// What a method with a receiver gets by default (see [`Options::companions`]).
    const SELF_METHOD: Companions = Companions {
        invalidate: true,
        refresh: true,
        peek: false,
        many: false,
        listed: false,
    };
    pub(crate) const NONE: Companions = Companions {
        invalidate: false,
        refresh: false,
        peek: false,
        many: false,
        listed: false,
    };
}

impl OptionValue for Companions {
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        const MESSAGE: &str = "`companions` must be `false`, `true` or a list of them: `companions = [invalidate, refresh, peek, many]`";
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(all),
                ..
            }) => Ok(if all.value {
                Companions::ALL
            } else {
                Companions::NONE
            }),
            Expr::Array(array) => {
                let mut companions = Companions {
                    listed: true,
                    ..Companions::NONE
                };
                let mut errors = Errors::default();
                for elem in array.elems {
                    let elem = ungroup(elem);
                    let name = match &elem {
                        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
                        _ => None,
                    };
                    let flag = match name.map(Ident::to_string).as_deref() {
                        Some("invalidate") => &mut companions.invalidate,
                        Some("refresh") => &mut companions.refresh,
                        Some("peek") => &mut companions.peek,
                        Some("many") => &mut companions.many,
                        _ => {
                            errors.error(
                                &elem,
                                "unknown companion; the companions are `invalidate`, `refresh`, `peek`, `many`",
                            );
                            continue;
                        }
                    };
                    if *flag {
                        errors.error(&elem, "this companion is listed twice");
                    }
                    *flag = true;
                }
                errors.finish()?;
                Ok(companions)
            }
            expr => Err(syn::Error::new_spanned(expr, MESSAGE)),
        }
    }
}

/// `off`, which takes no value.
#[derive(Clone)]
pub(crate) struct Off;

impl OptionValue for Off {
    fn from_expr(_: Expr) -> syn::Result<Self> {
        unreachable!("`off` has its own `parse`")
    }

    fn parse(keyword: &Ident, input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(Off);
        }
        Err(syn::Error::new(
            keyword.span(),
            "`off` takes no value: `#[cached(off)]`",
        ))
    }
}

impl Options {
    /// The companions to generate: those `companions = ...` names; without
    /// it, all (`_many` where there are key arguments) for a function, or a
    /// method of a `#[cached]` impl block; only `_invalidate` and `_refresh`
    /// for a method with a receiver under an attribute of its own, which may
    /// sit in a trait impl (the attribute can't tell) whose trait declares
    /// just those two, as every such trait had to before `_peek` and `_many`.
    pub(crate) fn companions(&self, function: &Function<'_>) -> Companions {
        match self.companions.value() {
            Some(companions) => *companions,
            None if function.receiver.is_some() && !function.in_block => Companions::SELF_METHOD,
            None => Companions::ALL,
        }
    }

    /// A method's options in a `#[cached]` impl block (`self`, possibly empty)
    /// over the block's: tags add up, every other option the method sets
    /// replaces the block's. The block's `skip` keeps the names that are
    /// arguments of this method (`arg_names`).
    pub(crate) fn over(self, block: &Options, arg_names: &[&Ident]) -> Options {
        let tags = match (self.tags.value, block.tags.value()) {
            (Some(mut own), Some(shared)) => {
                let mut exprs = shared.exprs.clone();
                exprs.extend(std::mem::take(&mut own.exprs));
                Opt {
                    keyword: self.tags.keyword,
                    value: Some(Tags { exprs }),
                }
            }
            (own, _) => Opt {
                keyword: self.tags.keyword,
                value: own,
            }
            .or(&block.tags),
        };
        let skip = match self.skip.keyword {
            Some(_) => self.skip,
            None => {
                let mut skip = block.skip.clone();
                if let Some(value) = &mut skip.value {
                    value.args.retain(|arg| arg_names.contains(&arg));
                }
                skip
            }
        };
        Options {
            ttl: self.ttl.or(&block.ttl),
            jitter: self.jitter.or(&block.jitter),
            stale: self.stale.or(&block.stale),
            refresh_ahead: self.refresh_ahead.or(&block.refresh_ahead),
            fail_safe: self.fail_safe.or(&block.fail_safe),
            tags,
            key: self.key.or(&block.key),
            cache: self.cache.or(&block.cache),
            skip,
            name: self.name,
            version: self.version.or(&block.version),
            lock: self.lock.or(&block.lock),
            unless: self.unless.or(&block.unless),
            companions: self.companions.or(&block.companions),
            off: self.off,
        }
    }
}

/// Parses the tokens between the parentheses of `#[cached(...)]`. Every error
/// is recorded and parsing goes on with the next option.
pub(crate) fn parse(attr: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = |input: ParseStream<'_>| {
        while !input.is_empty() {
            parse_option(input, &mut options, errors);
            if input.is_empty() {
                break;
            }
            if let Err(error) = input.parse::<Token![,]>() {
                errors.push(error);
                skip_to_comma(input);
                let _ = input.parse::<Option<Token![,]>>();
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(attr) {
        errors.push(error);
    }
    options
}

/// Parses one `keyword = value` or `skip(...)`.
fn parse_option(input: ParseStream<'_>, options: &mut Options, errors: &mut Errors) {
    let keyword = match input.call(Ident::parse_any) {
        Ok(keyword) => keyword,
        Err(_) => {
            errors.push(syn::Error::new(
                first_token_span(input),
                format!("expected an option: {OPTION_NAMES}"),
            ));
            skip_to_comma(input);
            return;
        }
    };
    match keyword.to_string().as_str() {
        "ttl" => options.ttl.parse(keyword, input, errors),
        "jitter" => options.jitter.parse(keyword, input, errors),
        "stale" => options.stale.parse(keyword, input, errors),
        "refresh_ahead" => options.refresh_ahead.parse(keyword, input, errors),
        "fail_safe" => options.fail_safe.parse(keyword, input, errors),
        "tags" => options.tags.parse(keyword, input, errors),
        "key" => options.key.parse(keyword, input, errors),
        "cache" => options.cache.parse(keyword, input, errors),
        "skip" => options.skip.parse(keyword, input, errors),
        "name" => options.name.parse(keyword, input, errors),
        "version" => options.version.parse(keyword, input, errors),
        "lock" => options.lock.parse(keyword, input, errors),
        "unless" => options.unless.parse(keyword, input, errors),
        "companions" => options.companions.parse(keyword, input, errors),
        "off" => options.off.parse(keyword, input, errors),
        _ => {
            errors.error(
                &keyword,
                format!("unknown option `{keyword}`; the options are {OPTION_NAMES}"),
            );
            skip_to_comma(input);
        }
    }
}

/// Parses one expression from a copy of the rest of the input, then steps
/// over it: a syntax error inside a group can't leak an "unexpected token"
/// error into the parse of the other options.
fn parse_expr(input: ParseStream<'_>) -> syn::Result<Expr> {
    let rest: TokenStream = input.fork().parse()?;
    let total = rest.clone().into_iter().count();
    let (expr, left) = (|input: ParseStream<'_>| {
        let expr: Expr = input.parse()?;
        let left: TokenStream = input.parse()?;
        Ok((expr, left.into_iter().count()))
    })
    .parse2(rest)?;
    input.step(|cursor| {
        let mut rest = *cursor;
        for _ in left..total {
            if let Some((_, next)) = rest.token_tree() {
                rest = next;
            }
        }
        Ok(((), rest))
    })?;
    Ok(expr)
}

/// Error recovery: drops tokens up to the next `,` outside any group.
fn skip_to_comma(input: ParseStream<'_>) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tree, next)) = rest.token_tree() {
            if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

fn first_token_span(input: ParseStream<'_>) -> Span {
    input
        .cursor()
        .token_tree()
        .map_or_else(|| input.span(), |(tree, _)| tree.span())
}

/// Expressions passed through `macro_rules!` arrive in invisible groups.
fn ungroup(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => ungroup(*group.expr),
        expr => expr,
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse_ok(tokens: TokenStream) -> Options {
        let mut errors = Errors::default();
        let options = parse(tokens, &mut errors);
        if let Err(error) = errors.finish() {
            panic!("unexpected errors: {:?}", messages(error));
        }
        options
    }

    fn parse_err(tokens: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        parse(tokens, &mut errors);
        messages(errors.finish().expect_err("expected errors"))
    }

    fn messages(error: syn::Error) -> Vec<String> {
        error.into_iter().map(|error| error.to_string()).collect()
    }

    fn text(tokens: impl quote::ToTokens) -> String {
        tokens.to_token_stream().to_string()
    }

    #[test]
    fn empty() {
        let options = parse_ok(quote!());
        assert!(options.ttl.keyword().is_none());
        assert!(options.skipped().is_empty());
    }

    #[test]
    fn every_option() {
        let options = parse_ok(quote! {
            ttl = 600, tags = ["a", format!("user:{id}")], key = format!("{id}"),
            cache = MY_CACHE, skip(db, conn), name = "users.load", version = 2, lock = false,
        });
        assert!(matches!(
            options.ttl.value(),
            Some(Ttl::Secs { secs: 600, .. })
        ));
        assert_eq!(options.tags.value().unwrap().exprs.len(), 2);
        assert_eq!(text(options.key.value()), "format ! (\"{id}\")");
        assert_eq!(text(options.cache.value()), "MY_CACHE");
        let skipped = options.skipped();
        assert_eq!(text(quote!(#(#skipped)*)), "db conn");
        assert_eq!(options.name.value().unwrap().value(), "users.load");
        assert_eq!(options.version.value().unwrap().value, 2);
        assert!(!options.lock.value().unwrap().value);
    }

    #[test]
    fn ttl_expression_and_turbofish() {
        let options = parse_ok(quote!(
            ttl = Duration::from_millis(1500),
            cache = get::<A, B>()
        ));
        assert!(matches!(options.ttl.value(), Some(Ttl::Duration(_))));
        assert_eq!(text(options.cache.value()), "get :: < A , B > ()");
    }

    #[test]
    fn bad_values_are_all_reported() {
        let errors = parse_err(quote! {
            ttl = 1.5, tags = "x", name = users, version = "2", lock = 1, skip(a::b, 3)
        });
        assert_eq!(errors.len(), 7, "{errors:?}");
        assert!(errors[0].starts_with("`ttl` must be whole seconds"));
        assert!(errors[1].starts_with("`tags` must be an array"));
        assert!(errors[2].starts_with("`name` must be a string literal"));
        assert!(errors[3].starts_with("`version` must be an integer literal"));
        assert_eq!(errors[4], "`lock` must be `true` or `false`");
        assert_eq!(errors[5], "`skip` takes argument names: `skip(db)`");
        assert_eq!(errors[6], "`skip` takes argument names: `skip(db)`");
    }

    #[test]
    fn ttl_string_and_negative() {
        let errors = parse_err(quote!(ttl = "10"));
        assert!(errors[0].starts_with("`ttl` must be whole seconds"));
        assert_eq!(parse_err(quote!(ttl = -5)), ["`ttl` can't be negative"]);
    }

    #[test]
    fn unknown_and_duplicate() {
        let errors = parse_err(quote!(ttl = 1, tll = 2, ttl = 3, foo(x, y), lock = true));
        assert_eq!(
            errors,
            [
                format!("unknown option `tll`; the options are {OPTION_NAMES}"),
                "duplicate option `ttl`".to_owned(),
                format!("unknown option `foo`; the options are {OPTION_NAMES}"),
            ]
        );
    }

    #[test]
    fn wrong_form() {
        assert_eq!(parse_err(quote!(ttl(5))), ["expected `ttl = ...`"]);
        assert_eq!(
            parse_err(quote!(skip = a)),
            ["expected `skip(argument, ...)`"]
        );
        assert_eq!(parse_err(quote!(lock)), ["expected `lock = ...`"]);
    }

    #[test]
    fn syntax_errors_recover_at_the_next_comma() {
        let errors = parse_err(quote!(key = 1 +, version = 2.0, lock = true));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[1].starts_with("`version` must be an integer"));
        let errors = parse_err(quote!("ttl", lock = nope));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("expected an option"));
        let errors = parse_err(quote!(key = f(1 2), lock = 0));
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn unless_companions_and_off() {
        let options = parse_ok(quote!(
            unless = |v| v.is_empty(),
            companions = [peek, many],
            off
        ));
        assert_eq!(
            text(&options.unless.value().unwrap().expr),
            "| v | v . is_empty ()"
        );
        let item: syn::ItemFn = syn::parse_quote!(
            fn f(n: u64) {}
        );
        let function = Function::new(&item, &[]);
        let companions = options.companions(&function);
        assert!(!companions.invalidate && !companions.refresh);
        assert!(companions.peek && companions.many && companions.listed);
        assert!(options.off.keyword().is_some());
        assert!(
            !parse_ok(quote!(companions = false))
                .companions(&function)
                .peek
        );
        assert!(parse_ok(quote!()).companions(&function).invalidate);
        let all = parse_ok(quote!(companions = true)).companions(&function);
        assert!(all.refresh && all.many && !all.listed);
        // A method under its own attribute: `_invalidate` and `_refresh`
        // unless asked; in a `#[cached]` impl block, all.
        let item: syn::ItemFn = syn::parse_quote!(
            fn f(&self, n: u64) {}
        );
        let mut method = Function::new(&item, &[]);
        let default = parse_ok(quote!()).companions(&method);
        assert!(default.invalidate && default.refresh && !default.peek && !default.many);
        assert!(parse_ok(quote!(companions = true)).companions(&method).many);
        method.in_block = true;
        assert!(parse_ok(quote!()).companions(&method).many);
    }

    #[test]
    fn bad_unless_companions_and_off() {
        let errors = parse_err(quote!(
            unless = 1,
            companions = [peek, drop, peek],
            companions = 1,
            off = true
        ));
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(errors[0].starts_with("`unless` takes a closure"));
        assert!(errors[1].starts_with("unknown companion"));
        assert_eq!(errors[2], "this companion is listed twice");
        assert!(errors[3].starts_with("`companions` must be"));
        assert_eq!(errors[4], "duplicate option `companions`");
        assert_eq!(errors[5], "`off` takes no value: `#[cached(off)]`");
    }

    #[test]
    fn a_methods_options_over_its_blocks() {
        let block = parse_ok(quote!(
            ttl = 300,
            tags = ["repo"],
            skip(db, conn),
            version = 2,
            cache = C
        ));
        let a: Ident = syn::parse_quote!(db);
        let method = parse_ok(quote!(ttl = 10, tags = [format!("user:{id}")]));
        let merged = method.over(&block, &[&a]);
        assert!(matches!(
            merged.ttl.value(),
            Some(Ttl::Secs { secs: 10, .. })
        ));
        let tags = &merged.tags.value().unwrap().exprs;
        assert_eq!(text(tags), "\"repo\" , format ! (\"user:{id}\")");
        let skipped = merged.skipped();
        assert_eq!(
            text(quote!(#(#skipped)*)),
            "db",
            "only the method's own arguments"
        );
        assert_eq!(merged.version.value().unwrap().value, 2);
        assert_eq!(text(merged.cache.value()), "C");

        let own_skip = parse_ok(quote!(skip(conn))).over(&block, &[&a]);
        let skipped = own_skip.skipped();
        assert_eq!(
            text(quote!(#(#skipped)*)),
            "conn",
            "a method's skip replaces the block's"
        );
        let untagged = parse_ok(quote!()).over(&parse_ok(quote!()), &[]);
        assert!(untagged.tags.value().is_none());
    }

    #[test]
    fn jitter_and_ttl_closure() {
        let options = parse_ok(quote!(ttl = |t: &Token| t.lifetime, jitter = 0.1));
        assert!(matches!(options.ttl.value(), Some(Ttl::Closure(_))));
        assert_eq!(options.jitter.value().unwrap().value, 0.1);
        let message = "`jitter` must be a fraction between 0 and 1 (exclusive): `jitter = 0.1`";
        for bad in [
            quote!(jitter = -1),
            quote!(jitter = 1.5),
            quote!(jitter = 1.0),
            quote!(jitter = 0.0),
            quote!(jitter = 1),
            quote!(jitter = x),
        ] {
            assert_eq!(parse_err(bad), [message]);
        }
        assert_eq!(parse_err(quote!(jitter)), ["expected `jitter = ...`"]);
    }

    #[test]
    fn stale_and_refresh_ahead() {
        let options = parse_ok(quote!(ttl = 60, stale = 30, refresh_ahead = 0.8));
        assert!(matches!(options.stale.value(), Some(Period::Secs(_))));
        assert_eq!(options.refresh_ahead.value().unwrap().value, 0.8);
        let options = parse_ok(quote!(stale = Duration::from_millis(500)));
        assert!(matches!(options.stale.value(), Some(Period::Duration(_))));
        assert_eq!(parse_err(quote!(stale = -5)), ["`stale` can't be negative"]);
        let message =
            "`refresh_ahead` must be a fraction between 0 and 1 (exclusive): `refresh_ahead = 0.1`";
        for wrong in [quote!(refresh_ahead = 1.5), quote!(refresh_ahead = 0.0)] {
            assert_eq!(parse_err(wrong), [message]);
        }
    }

    #[test]
    fn fail_safe() {
        let options = parse_ok(quote!(fail_safe = 3600));
        assert!(matches!(options.fail_safe.value(), Some(Period::Secs(_))));
        let options = parse_ok(quote!(fail_safe = Duration::from_secs(90)));
        assert!(matches!(
            options.fail_safe.value(),
            Some(Period::Duration(_))
        ));
        assert_eq!(
            parse_err(quote!(fail_safe = -1)),
            ["`fail_safe` can't be negative"]
        );
        let errors = parse_err(quote!(fail_safe = "1h", fail_safe = |v| v));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`fail_safe` must be whole seconds"));
        assert!(errors[1].starts_with("`fail_safe` must be whole seconds"));
        assert_eq!(errors[2], "duplicate option `fail_safe`");
    }

    #[test]
    fn version_out_of_range() {
        let errors = parse_err(quote!(version = 5000000000));
        assert_eq!(errors.len(), 1);
    }
}

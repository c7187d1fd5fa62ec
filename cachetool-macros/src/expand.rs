//! The code generation shared by a cached function and its companions: the
//! body of each (its `Site`, its request, the call into the runtime). It can't
//! fail: every error was found by `attr.rs` or `valid.rs` before it runs.
//! `cached_fn.rs` puts the function and its companions together.
//!
//! Everything generated reaches the runtime as `::cachetool::__private::...`
//! and std as `::core::...`, and names its locals `__cachetool_*`, so that
//! the user's items and arguments never interfere.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::Ident;

use crate::ast::{Function, Output, Role};
use crate::attr::{Options, Period, Ttl};

/// What a generated function does with its request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// The function itself: the cached value, or the body's.
    Compute,
    /// `_invalidate`: drops the entry.
    Invalidate,
    /// `_refresh`: runs the body and stores its value.
    Refresh,
    /// `_peek`: the stored value, if any.
    Peek,
    /// `_many`: the values of several calls.
    Many,
}

impl Call {
    /// The `companion_suffix` of the runtime's `Site`.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Call::Compute => "",
            Call::Invalidate => "_invalidate",
            Call::Refresh => "_refresh",
            Call::Peek => "_peek",
            Call::Many => "_many",
        }
    }
}

/// The body of a generated function: its site, its request, and the call.
pub(crate) fn body(options: &Options, function: &Function<'_>, call: Call) -> TokenStream {
    let inner_attrs = match call {
        Call::Compute | Call::Refresh => function.inner_attrs().collect(),
        Call::Invalidate | Call::Peek | Call::Many => Vec::new(),
    };
    let site = site(options, function, call);
    let cache = cache(options);
    // The function itself looks at a local store first, and returns a hit
    // before its request is built (not inside `#[async_trait]`'s boxed
    // future, whose `return` would not leave the function).
    // A `stale` or `refresh_ahead` function looks for a value due for a
    // recomputation instead, once its request is built (`revalidate.rs`).
    let revalidates = call == Call::Compute && crate::revalidate::revalidates(options);
    let first_look = call == Call::Compute && function.async_trait.is_none() && !revalidates;
    let request = request(options, function, first_look);
    // The `async` of an async function (or of the `async move` that
    // `#[async_trait]` left), where the error for a missing `tokio` feature goes.
    let mut async_span = function.item.sig.asyncness.map(|token| token.span);
    let run = if let (Some(future), Call::Compute) = (function.async_trait, call) {
        let method = method(function, call, fail_safe_suffix(options, call, "_async"));
        async_span = Some(future.async_token.span);
        let unless = store_rules(options, function);
        // What the request borrows from `unless` lives in the future.
        quote!(::std::boxed::Box::pin(async move {
            #unless
            __cachetool_request.#method(#future).await
        }))
    } else {
        match (call, async_span.is_some()) {
            (Call::Invalidate, false) => quote!(__cachetool_request.invalidate()),
            (Call::Invalidate, true) => quote!(__cachetool_request.invalidate_async().await),
            // At the return type's span, as `get_or_compute`: an uncacheable
            // type's error points at it.
            (Call::Peek, false) => {
                let peek = Ident::new("peek", function.output.span());
                quote!(__cachetool_request.#peek())
            }
            (Call::Peek, true) => {
                let peek = Ident::new("peek_async", function.output.span());
                quote!(__cachetool_request.#peek().await)
            }
            (Call::Compute | Call::Refresh, false) => {
                compute(options, function, call, fail_safe_suffix(options, call, ""))
            }
            (Call::Compute | Call::Refresh, true) => compute(
                options,
                function,
                call,
                fail_safe_suffix(options, call, "_async"),
            ),
            (Call::Many, _) => unreachable!("`_many` has a body of its own (many.rs)"),
        }
    };
    let look_for_stale = match revalidates {
        true => {
            let suffix = if async_span.is_some() { "_async" } else { "" };
            let job = compute(options, function, call, suffix);
            let look = crate::revalidate::look(function, &request, &job);
            quote!(let __cachetool_request = #look;)
        }
        false => TokenStream::new(),
    };
    // The request is built here, so that it borrows none of the arguments
    // that the body (a closure or a future) takes.
    let run = quote!({
        #cache
        let __cachetool_request = #request;
        #look_for_stale
        #run
    });
    let run = match async_span {
        Some(span) => needs_tokio(span, call, run),
        None => run,
    };
    quote!({
        #(#inner_attrs)*
        #site
        #run
    })
}

/// What decides whether and how long the value is stored: `unless` and a
/// `ttl` closure, made and told to the request (nothing without them).
fn store_rules(options: &Options, function: &Function<'_>) -> TokenStream {
    let unless = unless(options, function);
    let ttl_of = ttl_of(options, function);
    quote!(#unless #ttl_of)
}

/// `UNLESS request.METHOD(BODY)` (awaited for an `async fn`): the call of
/// the function itself or of `_refresh` by the runtime's method with `suffix`.
fn compute(options: &Options, function: &Function<'_>, call: Call, suffix: &str) -> TokenStream {
    let unless = store_rules(options, function);
    let method = method(function, call, suffix);
    if !function.is_async() {
        let closure = closure(function);
        return quote!(#unless __cachetool_request.#method(#closure));
    }
    // An `unless` closure borrowing arguments: the body borrows them too,
    // instead of taking them (an `async move` would).
    let borrows = options.unless.value().is_some_and(|unless| {
        function
            .unless_uses(&unless.expr, &function.arg_names())
            .is_some()
    });
    let future = match borrows {
        true => borrowing_async_block(function),
        false => async_block(function),
    };
    quote!(#unless __cachetool_request.#method(#future).await)
}

/// The suffix of the runtime's method for `call`: the function itself of a
/// `fail_safe` function has methods of its own (`fail_safe.rs`).
fn fail_safe_suffix(options: &Options, call: Call, suffix: &'static str) -> &'static str {
    match (options.fail_safe.keyword(), call, suffix) {
        (Some(_), Call::Compute, "") => "_fail_safe",
        (Some(_), Call::Compute, _) => "_fail_safe_async",
        _ => suffix,
    }
}

/// `run` (a block) handed to the runtime's `async_fn!`, at the span of the
/// function's `async`: the runtime compiles it only with its `tokio` feature,
/// which this macro can't see. Without it, the function itself gets one
/// error naming the feature, pointing at `async`; its companions none more.
pub(crate) fn needs_tokio(async_span: Span, call: Call, run: TokenStream) -> TokenStream {
    let role = match call {
        Call::Compute => quote!(function),
        Call::Invalidate | Call::Refresh | Call::Peek | Call::Many => quote!(companion),
    };
    quote_spanned!(async_span=> ::cachetool::__private::async_fn! { #role #run })
}

/// `unless = ...`: the closure, typed by the return type (so that its argument
/// needs no annotation), and the request told of it. Nothing without the option.
pub(crate) fn unless(options: &Options, function: &Function<'_>) -> TokenStream {
    let Some(unless) = options.unless.value() else {
        return TokenStream::new();
    };
    let closure = unless_closure(&unless.expr, function);
    quote! {
        let __cachetool_unless = #closure;
        let __cachetool_request = __cachetool_request.unless(&__cachetool_unless);
    }
}

/// `ttl = |value| ...`: the closure as a `fn` pointer typed by the return
/// type, and the request told of it. Nothing for any other `ttl`.
pub(crate) fn ttl_of(options: &Options, function: &Function<'_>) -> TokenStream {
    let (make, apply) = ttl_of_parts(options, function);
    quote!(#make #apply)
}

/// [`ttl_of`] in two: making the closure (once), and telling a request.
pub(crate) fn ttl_of_parts(
    options: &Options,
    function: &Function<'_>,
) -> (TokenStream, TokenStream) {
    let Some(Ttl::Closure(expr)) = options.ttl.value() else {
        return (TokenStream::new(), TokenStream::new());
    };
    let ty = function.output.ty();
    let constructor = match function.output {
        Output::Result(_) => quote_spanned!(expr.span()=> ::cachetool::__private::ttl_ok),
        Output::Unit | Output::Value(_) => {
            quote_spanned!(expr.span()=> ::cachetool::__private::ttl_value)
        }
    };
    (
        quote!(let __cachetool_ttl_of = #constructor(::core::marker::PhantomData::<#ty>, #expr);),
        quote!(let __cachetool_request = __cachetool_request.ttl_of(&__cachetool_ttl_of);),
    )
}

/// `unless_value(PhantomData::<R>, EXPR)` or, for a `Result`, `unless_ok(..)`,
/// at the expression's span: a closure of the wrong type is reported there.
pub(crate) fn unless_closure(expr: &syn::Expr, function: &Function<'_>) -> TokenStream {
    let ty = function.output.ty();
    let constructor = match function.output {
        Output::Result(_) => quote_spanned!(expr.span()=> ::cachetool::__private::unless_ok),
        Output::Unit | Output::Value(_) => {
            quote_spanned!(expr.span()=> ::cachetool::__private::unless_value)
        }
    };
    quote!(#constructor(::core::marker::PhantomData::<#ty>, #expr))
}

/// `__cachetool_site_ref`, the `&'static Site` of the generated function:
/// its own `static` (see [`site_static`]), or for a method of a `#[cached]`
/// trait impl the one of its site function (`site_fn` in `cached_fn.rs`).
pub(crate) fn site(options: &Options, function: &Function<'_>, call: Call) -> TokenStream {
    match (&function.site_fn, call) {
        (Some(site_fn), Call::Compute) => quote! {
            let __cachetool_site_ref: &'static ::cachetool::__private::Site = Self::#site_fn();
        },
        _ => {
            let site = site_static(options, call.suffix());
            quote! {
                #site
                let __cachetool_site_ref: &'static ::cachetool::__private::Site = &__CACHETOOL_SITE;
            }
        }
    }
}

/// The marker `fn` whose type name gives the function's path, and the `Site`.
pub(crate) fn site_static(options: &Options, suffix: &str) -> TokenStream {
    let name = match options.name.value() {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let version = match options.version.value() {
        Some(version) => {
            let mut lit = Literal::u32_unsuffixed(version.value);
            lit.set_span(version.lit.span());
            lit
        }
        None => Literal::u32_unsuffixed(0),
    };
    let lock = match options.lock.value() {
        Some(lock) => lock.value,
        None => true,
    };
    quote! {
        fn __cachetool_site() -> &'static str {
            ::cachetool::__private::type_name_of_val(&__cachetool_site)
        }
        static __CACHETOOL_SITE: ::cachetool::__private::Site =
            ::cachetool::__private::Site::new(__cachetool_site, #suffix, #name, #version, #lock);
    }
}

/// `let __cachetool_cache: &Cache = &(cache);`, in the function's own block
/// rather than in the request's: a `cache = make_cache()` that gives an owned
/// `Cache` then lives (by temporary lifetime extension) as long as the call.
pub(crate) fn cache(options: &Options) -> TokenStream {
    let cache = match options.cache.value() {
        Some(cache) => quote_spanned!(cache.span()=> &(#cache)),
        None => quote!(::cachetool::global()),
    };
    // A mistyped `cache = ...` is "expected due to" the option's keyword.
    let cache_type = match options.cache.keyword() {
        Some(keyword) => quote_spanned!(keyword.span()=> &::cachetool::Cache),
        None => quote!(&::cachetool::Cache),
    };
    quote!(let __cachetool_cache: #cache_type = #cache;)
}

/// `{ key; tags; Request::new(...) }`: every borrow of the arguments ends
/// here. Tags are borrowed, so that `tags = [name]` doesn't move `name`.
/// With `first_look`, between the key and the tags: the look at a local
/// store, which returns its hit from the function (see [`first_look`]).
pub(crate) fn request(options: &Options, function: &Function<'_>, first_look: bool) -> TokenStream {
    let key = key(options, function);
    let tags: Vec<_> = options
        .tags
        .value()
        .map(|tags| tags.exprs.iter().collect())
        .unwrap_or_default();
    // At the tag's span (and context), so that `__cachetool_tagN` is the tag in errors.
    let tag_idents: Vec<Ident> = tags
        .iter()
        .enumerate()
        .map(|(index, tag)| quote::format_ident!("__cachetool_tag{}", index, span = tag.span()))
        .collect();
    let tag_names = tags
        .iter()
        .zip(&tag_idents)
        .map(|(tag, ident)| quote_spanned!(tag.span()=> ::cachetool::__private::tag(#ident)));
    let generics = function
        .type_params()
        .map(|param| quote!(::cachetool::__private::type_name::<#param>()));
    // `Self` tells apart the types that share a generic impl's or a trait default
    // method's path; the runtime keys it only there.
    let self_type = match function.receiver {
        Some(_) => quote!(::core::option::Option::Some(
            ::cachetool::__private::type_name::<Self>()
        )),
        None => quote!(::core::option::Option::None),
    };
    let ttl = match options.ttl.value() {
        // A closure's TTL is the value's, when it is stored (see `ttl_of`).
        None | Some(Ttl::Closure(_)) => quote!(::core::option::Option::None),
        Some(Ttl::Secs { lit: written, secs }) => {
            let mut lit = Literal::u64_unsuffixed(*secs);
            lit.set_span(written.span());
            quote!(::core::option::Option::Some(::cachetool::__private::ttl_secs(#lit)))
        }
        Some(Ttl::Duration(duration)) => {
            let ttl = quote_spanned!(duration.span()=> ::cachetool::__private::ttl(#duration));
            quote!(::core::option::Option::Some(#ttl))
        }
    };
    let generics = quote!(&[#(#generics),*]);
    let (look, mut after) = match first_look {
        true => {
            let look = self::first_look(function, &self_type, &generics);
            (look, quote!(.after(__cachetool_missed)))
        }
        false => (TokenStream::new(), TokenStream::new()),
    };
    if let Some(jitter) = options.jitter.value() {
        let mut fraction = Literal::f64_unsuffixed(jitter.value);
        fraction.set_span(jitter.lit.span());
        after.extend(quote!(.jitter(#fraction)));
    }
    if let Some(fail_safe) = options.fail_safe.value() {
        let within = period(fail_safe);
        after.extend(quote!(.fail_safe(#within)));
    }
    if let Some(stale) = options.stale.value() {
        let within = period(stale);
        after.extend(quote!(.stale(#within)));
    }
    if let Some(refresh_ahead) = options.refresh_ahead.value() {
        let mut fraction = Literal::f64_unsuffixed(refresh_ahead.value);
        fraction.set_span(refresh_ahead.lit.span());
        after.extend(quote!(.refresh_ahead(#fraction)));
    }
    quote!({
        let __cachetool_key = #key;
        #look
        #(let #tag_idents = &(#tags);)*
        ::cachetool::__private::Request::new(
            __cachetool_cache,
            __cachetool_site_ref,
            #self_type,
            #generics,
            __cachetool_key,
            &[#(#tag_names),*],
            #ttl,
        )#after
    })
}

/// A [`Period`] as a `Duration` expression: an uncheckable type is reported
/// at the expression.
fn period(period: &Period) -> TokenStream {
    match period {
        Period::Secs(secs) => {
            quote_spanned!(secs.span()=> ::cachetool::__private::ttl_secs(#secs))
        }
        Period::Duration(duration) => {
            quote_spanned!(duration.span()=> ::cachetool::__private::ttl(#duration))
        }
    }
}

/// `let __cachetool_missed = match look_locally(..) { Hit(value) => return value, .. };`:
/// a hit in a local store leaves the function at once (`Ok(value)` for a
/// `Result`); otherwise whether the look was made and missed, for the request.
fn first_look(
    function: &Function<'_>,
    self_type: &TokenStream,
    generics: &TokenStream,
) -> TokenStream {
    let value = quote!(__cachetool_value);
    let returned = returned(function, &value);
    // The call at the return type's span (the user's, as `get_or_compute`'s
    // name): an uncacheable type's error points there, and once (rustc
    // reports one unmet bound per type and span). The arguments, interpolated,
    // keep the call site's hygiene, so that the locals resolve even where
    // the return type came from another macro.
    let args = quote!(
        __cachetool_cache,
        __cachetool_site_ref,
        #self_type,
        #generics,
        &__cachetool_key,
    );
    let look = quote_spanned!(function.output.span()=> ::cachetool::__private::look_locally(#args));
    quote! {
        let __cachetool_missed = match #look {
            ::cachetool::__private::LocalLook::Hit(#value) => return #returned,
            __cachetool_look => __cachetool_look.missed(),
        };
    }
}

/// What the function returns for a cached `value`: `Ok(value)` for a `Result`.
pub(crate) fn returned(function: &Function<'_>, value: &TokenStream) -> TokenStream {
    match function.output {
        Output::Result(_) => quote!(::core::result::Result::Ok(#value)),
        Output::Unit | Output::Value(_) => value.clone(),
    }
}

/// `key_custom(&(EXPR))`, or `key_args(n).arg(&a)...finish()` over the key
/// arguments and const generics.
fn key(options: &Options, function: &Function<'_>) -> TokenStream {
    if let Some(key) = options.key.value() {
        return quote_spanned!(key.span()=> ::cachetool::__private::key_custom(&(#key)));
    }
    // In an impl block, a method cached without an attribute of its own says
    // how to leave it uncached when an argument can't be part of the key.
    let arg = match function.implicit {
        true => quote!(method_arg),
        false => quote!(arg),
    };
    let args = function.args.iter().filter_map(|each| match &each.role {
        Role::Key(ident) => Some(key_arg(&arg, ident, ident.span())),
        Role::Pattern(ident) => Some(key_arg(&arg, ident, each.pat_type.pat.span())),
        Role::Skipped(_) | Role::Wildcard => None,
    });
    let consts = function
        .const_params()
        .map(|param| key_arg(&quote!(arg), param, param.span()));
    let args: Vec<TokenStream> = args.chain(consts).collect();
    let count = args.len();
    quote!(::cachetool::__private::key_args(#count) #(#args)* .finish())
}

/// `.arg(&arg)` at the argument's span: a non-`Serialize` argument's error points at it.
fn key_arg(method: &TokenStream, ident: &Ident, span: Span) -> TokenStream {
    quote_spanned!(span=> .#method(&#ident))
}

/// `get_or_compute`, `get_or_compute_ok`, `refresh` or `refresh_ok`, at the
/// return type's span: an uncacheable type's error points at it.
pub(crate) fn method(function: &Function<'_>, call: Call, suffix: &str) -> Ident {
    let ok = matches!(function.output, Output::Result(_));
    let name = match (call, ok) {
        (Call::Refresh, false) => "refresh",
        (Call::Refresh, true) => "refresh_ok",
        (_, false) => "get_or_compute",
        (_, true) => "get_or_compute_ok",
    };
    Ident::new(&format!("{name}{suffix}"), function.output.span())
}

/// `|| -> R { let PATTERN = __cachetool_argN; BODY }`: not `move`, so the body
/// borrows what it only reads; `return` and `?` return from the closure.
pub(crate) fn closure(function: &Function<'_>) -> TokenStream {
    let ty = function.output.ty();
    let block = &function.item.block;
    let destructure = destructure(function);
    if destructure.is_empty() {
        quote!(|| -> #ty #block)
    } else {
        quote!(|| -> #ty { #(#destructure)* #block })
    }
}

/// `async move { let PATTERN = ...; let out: R = BODY; out }`: the body of an
/// `async fn`, which owns its arguments anyway. `return` and `?` leave the
/// block; the typed `let` gives `?` the error type to convert to.
pub(crate) fn async_block(function: &Function<'_>) -> TokenStream {
    let ty = function.output.ty();
    let block = &function.item.block;
    let destructure = destructure(function);
    quote!(async move {
        #(#destructure)*
        let __cachetool_output: #ty = #block;
        __cachetool_output
    })
}

/// `async { let PATTERN = ...; let out: R = BODY; out }`, not `move`: it
/// borrows the arguments taken once (a `&mut` one for this item only) and
/// takes the item's own as the body uses them.
pub(crate) fn borrowing_async_block(function: &Function<'_>) -> TokenStream {
    let ty = function.output.ty();
    let block = &function.item.block;
    let destructure = destructure(function);
    quote!(async {
        #(#destructure)*
        let __cachetool_output: #ty = #block;
        __cachetool_output
    })
}

/// `let PATTERN = __cachetool_argN;` for each pattern argument.
pub(crate) fn destructure(function: &Function<'_>) -> Vec<TokenStream> {
    function
        .args
        .iter()
        .filter_map(|arg| match &arg.role {
            Role::Pattern(ident) => {
                let pat = &arg.pat_type.pat;
                Some(quote!(let #pat = #ident;))
            }
            Role::Key(_) | Role::Skipped(_) | Role::Wildcard => None,
        })
        .collect()
}

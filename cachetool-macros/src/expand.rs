//! The macro's entry point (parse, validate, generate) and the code
//! generation, which can't fail: every error was found by `attr.rs` or
//! `valid.rs` before it runs.
//!
//! Everything generated reaches the runtime as `::cachetool::__private::...`
//! and std as `::core::...`, and names its locals `__cachetool_*`, so that
//! the user's items and arguments never interfere.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Ident, ItemFn};

use crate::ast::{Function, Output, Role};
use crate::attr::{self, Options, Ttl};
use crate::companions;
use crate::errors::Errors;
use crate::valid;

/// The whole macro: parse, validate, expand. On errors, the function is
/// emitted unchanged next to them (and stand-ins for its companions), so that
/// its callers see no errors of their own.
pub(crate) fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match parse_function(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(error) => {
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let options = attr::parse(attr, &mut errors);
    let function = Function::new(&item_fn, options.skipped());
    valid::check(&options, &function, &mut errors);
    match errors.finish() {
        Ok(()) => expand(&options, &function),
        Err(error) => {
            let stubs = companions::stubs(&function);
            let error = error.into_compile_error();
            quote!(#item #stubs #error)
        }
    }
}

fn parse_function(item: TokenStream) -> syn::Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|error| {
        if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
            if declaration.default.is_none() {
                return syn::Error::new_spanned(
                    declaration.sig,
                    "#[cached] needs the function's body: put it on the method in the `impl` block",
                );
            }
        }
        if syn::parse2::<syn::Item>(item).is_ok() {
            return syn::Error::new(Span::call_site(), "#[cached] can only be used on functions");
        }
        error
    })
}

fn expand(options: &Options, function: &Function<'_>) -> TokenStream {
    let attrs = function.outer_attrs();
    let vis = &function.item.vis;
    let sig = function.signature();
    let body = body(options, function, Call::Compute);
    // Companions of an `#[async_trait]` method would have to be members of the
    // trait: there are none (use tags and `clean`, or cache an inherent method).
    if function.async_trait.is_some() {
        return quote! {
            #(#attrs)*
            #vis #sig #body
        };
    }
    let invalidate = companions::invalidate(options, function);
    let refresh = companions::refresh(options, function);
    quote! {
        #(#attrs)*
        #vis #sig #body
        #invalidate
        #refresh
    }
}

/// What a generated function does with its request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// The function itself: the cached value, or the body's.
    Compute,
    /// `_invalidate`: drops the entry.
    Invalidate,
    /// `_refresh`: runs the body and stores its value.
    Refresh,
}

impl Call {
    /// The `companion_suffix` of the runtime's `Site`.
    fn suffix(self) -> &'static str {
        match self {
            Call::Compute => "",
            Call::Invalidate => "_invalidate",
            Call::Refresh => "_refresh",
        }
    }
}

/// The body of a generated function: its site, its request, and the call.
pub(crate) fn body(options: &Options, function: &Function<'_>, call: Call) -> TokenStream {
    let inner_attrs = match call {
        Call::Compute | Call::Refresh => function.inner_attrs().collect(),
        Call::Invalidate => Vec::new(),
    };
    let site = site(options, call);
    let cache = cache(options);
    let request = request(options, function);
    // The `async` of an async function (or of the `async move` that
    // `#[async_trait]` left), where the error for a missing `tokio` feature goes.
    let mut async_span = function.item.sig.asyncness.map(|token| token.span);
    let run = if let (Some(future), Call::Compute) = (function.async_trait, call) {
        let method = method(function, call, "_async");
        async_span = Some(future.async_token.span);
        quote!(::std::boxed::Box::pin(async move { __cachetool_request.#method(#future).await }))
    } else {
        match (call, async_span.is_some()) {
            (Call::Invalidate, false) => quote!(__cachetool_request.invalidate()),
            (Call::Invalidate, true) => quote!(__cachetool_request.invalidate_async().await),
            (Call::Compute | Call::Refresh, false) => {
                let method = method(function, call, "");
                let closure = closure(function);
                quote!(__cachetool_request.#method(#closure))
            }
            (Call::Compute | Call::Refresh, true) => {
                let method = method(function, call, "_async");
                let future = async_block(function);
                quote!(__cachetool_request.#method(#future).await)
            }
        }
    };
    let run = quote!({
        #cache
        let __cachetool_request = #request;
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

/// `run` (a block) handed to the runtime's `async_fn!`, at the span of the
/// function's `async`: the runtime compiles it only with its `tokio` feature,
/// which this macro can't see. Without it, the function itself gets one
/// error naming the feature, pointing at `async`; its companions none more.
fn needs_tokio(async_span: Span, call: Call, run: TokenStream) -> TokenStream {
    let role = match call {
        Call::Compute => quote!(function),
        Call::Invalidate | Call::Refresh => quote!(companion),
    };
    quote_spanned!(async_span=> ::cachetool::__private::async_fn! { #role #run })
}

/// The marker `fn` whose type name gives the function's path, and the `Site`.
fn site(options: &Options, call: Call) -> TokenStream {
    let suffix = call.suffix();
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
fn cache(options: &Options) -> TokenStream {
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
fn request(options: &Options, function: &Function<'_>) -> TokenStream {
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
        None => quote!(::core::option::Option::None),
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
    quote!({
        let __cachetool_key = #key;
        #(let #tag_idents = &(#tags);)*
        ::cachetool::__private::Request::new(
            __cachetool_cache,
            &__CACHETOOL_SITE,
            #self_type,
            &[#(#generics),*],
            __cachetool_key,
            &[#(#tag_names),*],
            #ttl,
        )
    })
}

/// `key_custom(&(EXPR))`, or `key_args(n).arg(&a)...finish()` over the key
/// arguments and const generics.
fn key(options: &Options, function: &Function<'_>) -> TokenStream {
    if let Some(key) = options.key.value() {
        return quote_spanned!(key.span()=> ::cachetool::__private::key_custom(&(#key)));
    }
    let args = function.args.iter().filter_map(|arg| match &arg.role {
        Role::Key(ident) => Some(key_arg(ident, ident.span())),
        Role::Pattern(ident) => Some(key_arg(ident, arg.pat_type.pat.span())),
        Role::Skipped(_) | Role::Wildcard => None,
    });
    let consts = function
        .const_params()
        .map(|param| key_arg(param, param.span()));
    let args: Vec<TokenStream> = args.chain(consts).collect();
    let count = args.len();
    quote!(::cachetool::__private::key_args(#count) #(#args)* .finish())
}

/// `.arg(&arg)` at the argument's span: a non-`Serialize` argument's error points at it.
fn key_arg(ident: &Ident, span: Span) -> TokenStream {
    quote_spanned!(span=> .arg(&#ident))
}

/// `get_or_compute`, `get_or_compute_ok`, `refresh` or `refresh_ok`, at the
/// return type's span: an uncacheable type's error points at it.
fn method(function: &Function<'_>, call: Call, suffix: &str) -> Ident {
    let ok = matches!(function.output, Output::Result(_));
    let name = match (call, ok) {
        (Call::Refresh, false) => "refresh",
        (Call::Refresh, true) => "refresh_ok",
        (_, false) => "get_or_compute",
        (_, true) => "get_or_compute_ok",
    };
    let span = match function.output {
        Output::Unit => Span::call_site(),
        Output::Value(ty) | Output::Result(ty) => ty.span(),
    };
    Ident::new(&format!("{name}{suffix}"), span)
}

/// `|| -> R { let PATTERN = __cachetool_argN; BODY }`: not `move`, so the body
/// borrows what it only reads; `return` and `?` return from the closure.
fn closure(function: &Function<'_>) -> TokenStream {
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
fn async_block(function: &Function<'_>) -> TokenStream {
    let ty = function.output.ty();
    let block = &function.item.block;
    let destructure = destructure(function);
    quote!(async move {
        #(#destructure)*
        let __cachetool_output: #ty = #block;
        __cachetool_output
    })
}

/// `let PATTERN = __cachetool_argN;` for each pattern argument.
fn destructure(function: &Function<'_>) -> Vec<TokenStream> {
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

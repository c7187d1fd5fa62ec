//! `{name}_many(<other params>, items) -> Vec<R>`: the function for each item
//! of its key arguments (a tuple where there are several), the arguments out
//! of the key (skipped, `_`) taken once for all.
//!
//! The expansion builds one request per item, reads every entry at once
//! (`Batch::lookup`), then goes through the items in order: a hit is taken as
//! read, a miss computed by a copy of the body (under its own dogpile
//! protection, in the runtime). The loops are generated rather than written
//! in the runtime because a body borrows the arguments taken once (a `&mut`
//! connection among them) for one item at a time, which an async closure
//! called per item could not.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens as _};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{parse_quote, FnArg, GenericParam, Ident, Lifetime, LifetimeParam, Pat, Signature, Type};

use crate::ast::{Arg, Function, Role};
use crate::attr::Options;
use crate::companions;
use crate::expand::{self, Call};

/// The `_many` companion; nothing for a function without key arguments.
pub(crate) fn many(options: &Options, function: &Function<'_>) -> TokenStream {
    if unless_uses_an_item(options, function).is_some() {
        return TokenStream::new();
    }
    let Some(sig) = signature(function) else {
        return TokenStream::new();
    };
    let body = body(options, function);
    companions::companion(function, Call::Many, &sig, body)
}

/// The key argument that `unless` uses, if any: `_many` has none such in
/// scope when it makes the closure, once for all items; nor could a closure
/// per item borrow its item while the body consumes it. Such a function gets
/// no `_many` (and asking for it is an error, in `valid.rs`).
pub(crate) fn unless_uses_an_item(options: &Options, function: &Function<'_>) -> Option<Ident> {
    let unless = options.unless.value()?;
    let items: Vec<&Ident> = function.item_args().map(|arg| item_name(arg)).collect();
    function.unless_uses(&unless.expr, &items)
}

/// Its stand-in, next to errors (see `fallback.rs`).
pub(crate) fn stub(function: &Function<'_>) -> TokenStream {
    match signature(function) {
        Some(sig) => companions::companion(
            function,
            Call::Many,
            &sig,
            quote!({ ::core::unreachable!() }),
        ),
        None => TokenStream::new(),
    }
}

/// The parameter that takes the items: hygienic, so that it can't clash with
/// the function's own parameters, which keep their names.
fn items_param() -> Ident {
    Ident::new("items", Span::mixed_site())
}

/// The companion's signature: the receiver and the arguments out of the key
/// in their places, then `items: impl IntoIterator<Item = K>`; it returns
/// `Vec<R>`. An `impl Trait` argument can't hold an elided lifetime, so each
/// one in `K` gets a lifetime parameter of its own (see [`item_type`]).
fn signature(function: &Function<'_>) -> Option<Signature> {
    let items: Vec<&Arg<'_>> = function.item_args().collect();
    // An `impl Trait` item (possible with `key = ...`) could not be named in
    // the `Item` type.
    if items.is_empty() || items.iter().any(|arg| has_impl_trait(&arg.pat_type.ty)) {
        return None;
    }
    let mut sig = companions::signature(function, Call::Many);
    let type_params: Vec<&Ident> = function.type_params().collect();
    let mut lifetimes = Vec::new();
    let item_types: Vec<TokenStream> = items
        .iter()
        .map(|arg| item_type(&arg.pat_type.ty, &type_params, &mut lifetimes))
        .collect();
    for (index, lifetime) in lifetimes.into_iter().enumerate() {
        let param = GenericParam::Lifetime(LifetimeParam::new(lifetime));
        sig.generics.params.insert(index, param);
    }
    let item = tuple(&item_types);
    let items_param = items_param();
    let kept: Vec<FnArg> = sig
        .inputs
        .iter()
        .filter(|input| match input {
            FnArg::Receiver(_) => true,
            FnArg::Typed(pat_type) => !items.iter().any(|arg| is_param_of(arg, pat_type)),
        })
        .cloned()
        .collect();
    sig.inputs = kept.into_iter().collect();
    sig.inputs.push(parse_quote!(
        #items_param: impl ::core::iter::IntoIterator<Item = #item>
    ));
    let output = function.output.ty();
    sig.output = parse_quote!(-> ::std::vec::Vec<#output>);
    Some(sig)
}

/// A key argument's type as the `Item` of `_many`, with a new lifetime
/// parameter (pushed on `lifetimes`) for each lifetime it elides.
///
/// `&T` and `'_` are named where they are written, each its own. A path type
/// can also elide its lifetimes without a trace (`Cow<str>` for
/// `Cow<'_, str>`, `Row` for `Row<'_>`), which the macro can't see; a type
/// that may do so (any path but the std types known to have no lifetime
/// parameter, the function's type parameters and `Self`) is written as
/// `<Map<Empty<&'l ()>, fn(&()) -> T> as Iterator>::Item`: in the `fn`
/// pointer's return type every elided lifetime, seen or not, is the one of
/// its `&()` argument, and the projection makes it `'l`. The compiler
/// normalizes it, so callers and errors see `Cow<'l, str>`.
fn item_type(ty: &Type, type_params: &[&Ident], lifetimes: &mut Vec<Lifetime>) -> TokenStream {
    let mut fresh = || {
        let lifetime = Lifetime::new(
            &format!("'__cachetool_item{}", lifetimes.len()),
            Span::call_site(),
        );
        lifetimes.push(lifetime.clone());
        lifetime
    };
    if may_hide_lifetimes(ty, type_params) {
        let lifetime = fresh();
        return quote!(
            <::core::iter::Map<::core::iter::Empty<&#lifetime ()>, fn(&()) -> #ty>
                as ::core::iter::Iterator>::Item
        );
    }
    let mut ty = ty.clone();
    NameElided { fresh: &mut fresh }.visit_type_mut(&mut ty);
    quote!(#ty)
}

/// Std types without lifetime parameters, which can't hide one.
const OWNED_TYPES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "String", "Vec", "Option", "Box", "Rc", "Arc", "HashMap",
    "HashSet", "BTreeMap", "BTreeSet", "VecDeque", "Result",
];

/// Whether `ty` may hold a path type that elides lifetimes unwritten
/// (`Cow<str>`): false only when every path in it is known not to.
fn may_hide_lifetimes(ty: &Type, type_params: &[&Ident]) -> bool {
    struct Finder<'p> {
        type_params: &'p [&'p Ident],
        found: bool,
    }
    impl<'a> syn::visit::Visit<'a> for Finder<'_> {
        fn visit_type_path(&mut self, path: &'a syn::TypePath) {
            let Some(last) = path.path.segments.last() else {
                return;
            };
            let known = path.qself.is_none()
                && (OWNED_TYPES.iter().any(|name| last.ident == name)
                    || (path.path.segments.len() == 1
                        && (last.ident == "Self"
                            || self.type_params.iter().any(|param| **param == last.ident))));
            // Lifetime arguments are all written or none: one written, none hidden.
            let writes_lifetimes = matches!(
                &last.arguments,
                syn::PathArguments::AngleBracketed(arguments)
                    if arguments.args.iter().any(|argument| matches!(argument, syn::GenericArgument::Lifetime(_)))
            );
            if !known && !writes_lifetimes {
                self.found = true;
            }
            syn::visit::visit_type_path(self, path);
        }

        fn visit_trait_bound(&mut self, bound: &'a syn::TraitBound) {
            // `dyn Trait`: the trait may hide lifetimes too.
            self.found = true;
            syn::visit::visit_trait_bound(self, bound);
        }

        // A `fn(Cow<str>)` pointer's lifetimes are its own.
        fn visit_type_bare_fn(&mut self, _: &'a syn::TypeBareFn) {}

        fn visit_type_macro(&mut self, _: &'a syn::TypeMacro) {
            self.found = true;
        }
    }
    let mut finder = Finder {
        type_params,
        found: false,
    };
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.found
}
/// Whether `param` (of the companion's signature, pattern arguments renamed)
/// is the parameter of `arg`.
fn is_param_of(arg: &Arg<'_>, param: &syn::PatType) -> bool {
    let name = match &arg.role {
        Role::Key(ident) | Role::Skipped(ident) => *ident,
        Role::Pattern(ident) => ident,
        Role::Wildcard => return false,
    };
    matches!(&*param.pat, Pat::Ident(pat) if pat.ident == *name)
}

fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'a> syn::visit::Visit<'a> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'a syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

/// Replaces each `&T` and `'_` with a new named lifetime.
struct NameElided<'f> {
    fresh: &'f mut dyn FnMut() -> Lifetime,
}

impl VisitMut for NameElided<'_> {
    fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
        if reference.lifetime.is_none() {
            reference.lifetime = Some((self.fresh)());
        }
        syn::visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            *lifetime = (self.fresh)();
        }
    }

    // A `fn(&T)` pointer's lifetimes are its own.
    fn visit_type_bare_fn_mut(&mut self, _: &mut syn::TypeBareFn) {}
}

fn body(options: &Options, function: &Function<'_>) -> TokenStream {
    let inner_attrs = function.inner_attrs();
    let site = expand::site(options, function, Call::Many);
    let request = expand::request(options, function, false);
    let (make_ttl_of, apply_ttl_of) = expand::ttl_of_parts(options, function);
    let items: Vec<&Arg<'_>> = function.item_args().collect();
    // Bound by name to build the request, then kept to run the body.
    let names: Vec<&Ident> = items.iter().map(|arg| item_name(arg)).collect();
    let names = tuple(&names);
    // Bound as the function binds them (`mut x`), to run the body.
    let patterns: Vec<TokenStream> = items
        .iter()
        .map(|arg| match &arg.role {
            Role::Pattern(ident) => quote!(#ident),
            _ => {
                let pat = &arg.pat_type.pat;
                quote!(#pat)
            }
        })
        .collect();
    let patterns = tuple(&patterns);
    let (make_unless, apply_unless) = match options.unless.value() {
        Some(unless) => {
            let closure = expand::unless_closure(&unless.expr, function);
            (
                quote!(let __cachetool_unless = #closure;),
                quote!(let __cachetool_request = __cachetool_request.unless(&__cachetool_unless);),
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    };
    let make_unless = quote!(#make_unless #make_ttl_of);
    let apply_unless = quote!(#apply_unless #apply_ttl_of);
    let stored = function.output.stored_ty();
    let stored = quote_spanned!(function.output.ty().span()=> #stored);
    // The method as a value, its path at the return type's span (where its
    // bound is checked): an uncacheable type is the one error of `lookup`
    // (the same one at the same place), not also "the method exists but its
    // trait bounds were not satisfied". The locals keep the macro's own span:
    // the return type's may come from a `macro_rules!`, whose hygiene would
    // hide them.
    let span = function.output.span();
    let lookups_method =
        |method: &Ident| quote_spanned!(span=> ::cachetool::__private::Lookups::#method);
    let (lookup, value) = if function.is_async() {
        let method = lookups_method(&expand::method(function, Call::Many, "_async"));
        let future = expand::borrowing_async_block(function);
        (
            quote!(__cachetool_batch.lookup_async::<#stored>().await),
            quote!({
                let __cachetool_compute = #method;
                __cachetool_compute(&mut __cachetool_lookups, #future).await
            }),
        )
    } else {
        let method = lookups_method(&expand::method(function, Call::Many, ""));
        let closure = expand::closure(function);
        (
            quote!(__cachetool_batch.lookup::<#stored>()),
            quote!({
                let __cachetool_compute = #method;
                __cachetool_compute(&mut __cachetool_lookups, #closure)
            }),
        )
    };
    // The cache once for all items (an owned `Cache` from `cache = f()` then
    // lives through the call), unless its expression uses an item's argument.
    let cache = expand::cache(options);
    let per_item = options.cache.value().is_some_and(|expr| {
        let names: Vec<&Ident> = items.iter().map(|arg| item_name(arg)).collect();
        mentions(expr.to_token_stream(), &names)
    });
    let (cache_once, cache_per_item) = match per_item {
        true => (TokenStream::new(), cache),
        false => (cache, TokenStream::new()),
    };
    let items_param = items_param();
    let run = quote!({
        #make_unless
        #cache_once
        let mut __cachetool_batch = ::cachetool::__private::Batch::new();
        let mut __cachetool_items = ::std::vec::Vec::new();
        for __cachetool_item in ::core::iter::IntoIterator::into_iter(#items_param) {
            let #names = __cachetool_item;
            #cache_per_item
            let __cachetool_request = #request;
            #apply_unless
            __cachetool_batch.push(__cachetool_request);
            __cachetool_items.push(#names);
        }
        let mut __cachetool_lookups = #lookup;
        let mut __cachetool_values = ::std::vec::Vec::with_capacity(__cachetool_items.len());
        for #patterns in __cachetool_items {
            __cachetool_values.push(#value);
        }
        __cachetool_values
    });
    // Without the `tokio` feature, an async `_many` adds no error of its own.
    let run = match function.item.sig.asyncness {
        Some(token) => expand::needs_tokio(token.span, Call::Many, run),
        None => run,
    };
    quote!({
        #(#inner_attrs)*
        #site
        #run
    })
}

/// Whether `tokens` hold one of `names` (as an identifier, at any depth).
fn mentions(tokens: TokenStream, names: &[&Ident]) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => names.iter().any(|name| **name == ident),
        TokenTree::Group(group) => mentions(group.stream(), names),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// The name an item argument has in the function's signature.
fn item_name<'a>(arg: &'a Arg<'_>) -> &'a Ident {
    match &arg.role {
        Role::Key(ident) | Role::Skipped(ident) => ident,
        Role::Pattern(ident) => ident,
        Role::Wildcard => unreachable!("`_` is never an item"),
    }
}

/// `a` for one, `(a, b)` for several.
fn tuple<T: quote::ToTokens>(parts: &[T]) -> TokenStream {
    match parts {
        [one] => quote!(#one),
        several => quote!((#(#several),*)),
    }
}

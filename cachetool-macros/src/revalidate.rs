//! `stale = ..` and `refresh_ahead = ..`: the function's first look may find
//! a value due for a recomputation. The function returns it at once and
//! hands the recomputation owned copies of its arguments, for the runtime
//! to run after the call returned (on the cache's threads for a sync
//! function, on a tokio task for an async one: `background.rs`).
//!
//! The recomputation is the function's own miss, generated a second time
//! inside a `'static` closure: the arguments are rebound there from their
//! copies (a `&str` argument borrows its `String`), the request is built
//! again from them and told it runs in the background.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Ident, Pat, Type};

use crate::ast::{Function, Output, Role};
use crate::attr::Options;
use crate::errors::Errors;

/// Whether the function serves values due for a recomputation.
pub(crate) fn revalidates(options: &Options) -> bool {
    options.stale.keyword().is_some() || options.refresh_ahead.keyword().is_some()
}

/// What `stale` and `refresh_ahead` need of the function: a TTL to be past,
/// and arguments the recomputation can own.
pub(crate) fn check(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    for keyword in [options.stale.keyword(), options.refresh_ahead.keyword()]
        .into_iter()
        .flatten()
    {
        if options.ttl.keyword().is_none() {
            errors.error(
                keyword,
                format!("`{keyword}` needs `ttl = ...` on the function: an entry without a TTL never becomes due for a recomputation (the cache's default TTL is not known when the function is compiled)"),
            );
        }
        if function.receiver.is_some() || function.async_trait.is_some() {
            errors.error(
                keyword,
                format!("`{keyword}` can't be used on a method with `self`: its recomputation runs after the call returned, with owned copies of the arguments, and `self` can't be one; cache an associated function that takes what the method needs"),
            );
        }
    }
    if !revalidates(options) {
        return;
    }
    for arg in function.args.iter().filter(|arg| name_of(arg).is_some()) {
        if let Type::Reference(reference) = peeled(&arg.pat_type.ty) {
            if reference.mutability.is_some() {
                errors.error(
                    &arg.pat_type.ty,
                    "`stale` and `refresh_ahead` recompute in the background with owned copies of the arguments: a `&mut` argument can't be copied",
                );
            }
        }
    }
}

/// `match request.look_for_stale() { .. }`: returns a fresh value, returns a
/// due one after starting its recomputation (`job`, the function's miss,
/// made of `request` and `run`), or gives back the request to go on with.
pub(crate) fn look(
    function: &Function<'_>,
    request: &TokenStream,
    run: &TokenStream,
) -> TokenStream {
    let value = quote!(__cachetool_value);
    let returned = crate::expand::returned(function, &value);
    // At the return type's span, as `get_or_compute`: an uncacheable type's
    // error points at it.
    let look = match function.is_async() {
        true => {
            let look = Ident::new("look_for_stale_async", function.output.span());
            quote!(__cachetool_request.#look().await)
        }
        false => {
            let look = Ident::new("look_for_stale", function.output.span());
            quote!(__cachetool_request.#look())
        }
    };
    let owned = function.args.iter().enumerate().filter_map(owned_copy);
    let job = job(function, request, run);
    quote! {
        match #look {
            ::cachetool::__private::Looked::Hit(#value) => return #returned,
            ::cachetool::__private::Looked::Stale(#value, __cachetool_claim) => {
                if let ::core::option::Option::Some(__cachetool_claim) = __cachetool_claim {
                    #(#owned)*
                    #job;
                }
                return #returned;
            }
            ::cachetool::__private::Looked::Miss(__cachetool_request) => __cachetool_request,
        }
    }
}

/// The recomputation, handed to the claim: the arguments rebound from their
/// copies, the request built again and told it is in the background, the
/// function's miss, and whether it succeeded.
fn job(function: &Function<'_>, request: &TokenStream, run: &TokenStream) -> TokenStream {
    let rebind: Vec<TokenStream> = function
        .args
        .iter()
        .enumerate()
        .filter_map(rebinding)
        .collect();
    // `run` may start with statements (`unless`, a `ttl` closure): a block.
    let succeeded = match function.output {
        Output::Result(_) => quote!({
            let __cachetool_outcome = { #run };
            __cachetool_outcome.is_ok()
        }),
        Output::Unit | Output::Value(_) => quote!({
            let _ = { #run };
            true
        }),
    };
    let work = quote! {
        #(#rebind)*
        let __cachetool_request = #request.in_background();
        #succeeded
    };
    match function.is_async() {
        true => quote! {
            __cachetool_claim.spawn_task(move |__cachetool_cache_owned: ::cachetool::Cache| async move {
                let __cachetool_cache: &::cachetool::Cache = &__cachetool_cache_owned;
                #work
            })
        },
        false => quote! {
            __cachetool_claim.spawn(move |__cachetool_cache: &::cachetool::Cache| { #work })
        },
    }
}

/// `ty` without the invisible groups (a `$t:ty` of a `macro_rules!`) and
/// parentheses around it.
fn peeled(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peeled(&group.elem),
        Type::Paren(paren) => peeled(&paren.elem),
        ty => ty,
    }
}

/// An argument's name in the signature and whether it is `mut` (`None`: `_`,
/// which nothing reads).
fn name_of<'a>(arg: &'a crate::ast::Arg<'_>) -> Option<(&'a Ident, bool)> {
    match &arg.role {
        Role::Key(ident) | Role::Skipped(ident) => {
            let mutable = matches!(&*arg.pat_type.pat, Pat::Ident(pat) if pat.mutability.is_some());
            Some((ident, mutable))
        }
        Role::Pattern(ident) => Some((ident, false)),
        Role::Wildcard => None,
    }
}

/// `let __cachetool_ownedN = owned_value(&x);` (or `owned_ref(x)` for a
/// reference), at the argument's type: one that can't be owned is reported there.
fn owned_copy((index, arg): (usize, &crate::ast::Arg<'_>)) -> Option<TokenStream> {
    let (ident, _) = name_of(arg)?;
    let owned = owned_name(index);
    let ty = &arg.pat_type.ty;
    let copy = match peeled(ty) {
        Type::Reference(_) => quote_spanned!(ty.span()=> ::cachetool::__private::owned_ref(#ident)),
        _ => quote_spanned!(ty.span()=> ::cachetool::__private::owned_value(&#ident)),
    };
    Some(quote!(let #owned = #copy;))
}

/// The copy of the argument at `index` (by position: a name made of the
/// argument's could collide, or trip the snake-case lint on `__cachetool_arg0`).
fn owned_name(index: usize) -> Ident {
    format_ident!("__cachetool_owned{}", index)
}

/// `let x = __cachetool_ownedN;` (or `borrow_owned(&..)` for a `&T`: the
/// copy knows its `T`, which the macro need not name, an `impl Trait` among
/// them).
fn rebinding((index, arg): (usize, &crate::ast::Arg<'_>)) -> Option<TokenStream> {
    let (ident, mutable) = name_of(arg)?;
    let owned = owned_name(index);
    let mutability = mutable.then(|| quote!(mut));
    let value = match peeled(&arg.pat_type.ty) {
        Type::Reference(_) => quote!(::cachetool::__private::borrow_owned(&#owned)),
        _ => quote!(#owned),
    };
    Some(quote!(let #mutability #ident = #value;))
}

//! The functions generated next to a `#[cached]` function: `{name}_invalidate`,
//! `{name}_refresh` and `{name}_peek`, with its visibility, generics and
//! parameters (and `&self` for methods); `{name}_many` is in `many.rs`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{parse_quote, Attribute, FnArg, Pat, ReturnType, Signature};

use crate::ast::Function;
use crate::attr::Options;
use crate::expand::{self, Call};

/// `fn {name}_invalidate(<params>) -> ::cachetool::Result<()>`.
pub(crate) fn invalidate(options: &Options, function: &Function<'_>) -> TokenStream {
    let sig = signature(function, Call::Invalidate);
    let body = expand::body(options, function, Call::Invalidate);
    companion(function, Call::Invalidate, &sig, body)
}

/// `fn {name}_refresh(<params>) -> <return type>`, with a copy of the body.
pub(crate) fn refresh(options: &Options, function: &Function<'_>) -> TokenStream {
    let sig = signature(function, Call::Refresh);
    let body = expand::body(options, function, Call::Refresh);
    companion(function, Call::Refresh, &sig, body)
}

/// `fn {name}_peek(<params>) -> Option<T>`: the stored value, if current.
pub(crate) fn peek(options: &Options, function: &Function<'_>) -> TokenStream {
    let sig = signature(function, Call::Peek);
    let body = expand::body(options, function, Call::Peek);
    companion(function, Call::Peek, &sig, body)
}

/// A companion: its doc, the function's `#[cfg]`s (and lint levels, where
/// it has a copy of the body), and no warning when it is never used.
pub(crate) fn companion(
    function: &Function<'_>,
    call: Call,
    sig: &Signature,
    body: TokenStream,
) -> TokenStream {
    let vis = &function.item.vis;
    let link = match function.receiver {
        Some(_) => format!("[`Self::{}`]", function.ident()),
        None => format!("[`{}`]", function.ident()),
    };
    let doc = match call {
        Call::Invalidate => format!("Drops the cached entry of {link} for these arguments."),
        Call::Refresh => {
            format!("Runs {link} for these arguments now, caches what it returns and returns it.")
        }
        Call::Peek => format!(
            "The value of {link} for these arguments if one is cached and current, without running it or waiting for a run."
        ),
        Call::Many => format!(
            "{link} for each item (its key arguments), in order: every cached value is read at once, the others computed one by one."
        ),
        Call::Compute => unreachable!("not a companion"),
    };
    // `#[cfg]` must follow the function; lint levels apply to the copied body.
    let attrs = function.outer_attrs().filter(|attr| match call {
        Call::Refresh | Call::Many => is_cfg(attr) || is_lint_level(attr),
        _ => is_cfg(attr),
    });
    quote! {
        #[doc = #doc]
        #(#attrs)*
        #[allow(unused_variables, dead_code)]
        #vis #sig #body
    }
}

/// The companion's signature: renamed, `&self` for methods, pattern arguments
/// renamed as in the function. `_invalidate` returns `::cachetool::Result<()>`
/// and `_peek` an `Option` of the stored type; neither is `unsafe` (they don't
/// run the body) nor takes `mut` parameters (they don't change them).
pub(crate) fn signature(function: &Function<'_>, call: Call) -> Signature {
    let mut sig = function.signature();
    sig.ident = format_ident!("{}{}", sig.ident, call.suffix(), span = sig.ident.span());
    // An `async fn`'s companions are `async` too.
    sig.constness = None;
    sig.abi = None;
    sig.variadic = None;
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first_mut() {
        let span = receiver.self_token.span;
        *receiver = parse_quote!(&self);
        receiver.self_token.span = span;
    }
    // A variadic function's trailing comma would be left dangling.
    if sig.inputs.trailing_punct() {
        sig.inputs.pop_punct();
    }
    let output = match call {
        Call::Invalidate => Some(quote_spanned!(sig.ident.span()=> ::cachetool::Result<()>)),
        Call::Peek => {
            let stored = function.output.stored_ty();
            Some(quote!(::core::option::Option<#stored>))
        }
        Call::Compute | Call::Refresh | Call::Many => None,
    };
    if let Some(output) = output {
        sig.unsafety = None;
        sig.output = ReturnType::Type(Default::default(), Box::new(parse_quote!(#output)));
        for input in &mut sig.inputs {
            if let FnArg::Typed(pat_type) = input {
                if let Pat::Ident(pat_ident) = &mut *pat_type.pat {
                    pat_ident.mutability = None;
                }
            }
        }
    }
    sig
}

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

fn is_lint_level(attr: &Attribute) -> bool {
    ["allow", "expect", "warn", "deny", "forbid"]
        .iter()
        .any(|level| attr.path().is_ident(level))
}

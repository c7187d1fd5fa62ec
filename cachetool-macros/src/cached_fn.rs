//! What a valid `#[cached]` function becomes: the function with the cache
//! around its body, and next to it its companions. `lib.rs` (a function) and
//! `impl_block.rs` (each method) call [`expand()`] once validation found no
//! error; the bodies come from `expand.rs`, the companions from
//! `companions.rs` and `many.rs`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use crate::ast::Function;
use crate::attr::Options;
use crate::companions;
use crate::expand::{self, Call};
use crate::many;

/// A cached function and its companions, kept apart for a trait impl
/// (whose companions go into an inherent impl of their own).
pub(crate) struct Expansion {
    /// The function itself.
    pub(crate) function: TokenStream,
    /// Its companions, and in a trait impl the function holding its `Site`.
    pub(crate) companions: TokenStream,
}

impl Expansion {
    /// Both, one after the other.
    pub(crate) fn into_tokens(self) -> TokenStream {
        let Expansion {
            function,
            companions,
        } = self;
        quote!(#function #companions)
    }
}

/// The function with the cache around its body, and its companions.
pub(crate) fn expand(options: &Options, function: &Function<'_>) -> Expansion {
    let attrs: Vec<_> = function.outer_attrs().collect();
    let vis = &function.item.vis;
    let sig = function.signature();
    let body = expand::body(options, function, Call::Compute);
    let item = quote! {
        #(#attrs)*
        #vis #sig #body
    };
    // Companions of an `#[async_trait]` method would have to be members of the
    // trait: there are none (use tags and `clean`, or cache an inherent method).
    if function.async_trait.is_some() {
        return Expansion {
            function: item,
            companions: TokenStream::new(),
        };
    }
    let site_fn = function
        .site_fn
        .as_ref()
        .map(|ident| site_fn(options, function, ident));
    let wanted = options.companions(function);
    let invalidate = wanted
        .invalidate
        .then(|| companions::invalidate(options, function));
    let refresh = wanted
        .refresh
        .then(|| companions::refresh(options, function));
    let peek = wanted.peek.then(|| companions::peek(options, function));
    let many = wanted.many.then(|| many::many(options, function));
    Expansion {
        function: item,
        companions: quote! {
            #site_fn
            #invalidate
            #refresh
            #peek
            #many
        },
    }
}

/// `fn {name}__cachetool_site() -> &'static Site`, next to the companions of
/// a method of a `#[cached]` trait impl: the method's `Site`, whose marker
/// then reads `app::Disk::load__cachetool_site::__cachetool_site`, and so
/// the key path `app.Disk.load` of the companions beside it.
pub(crate) fn site_fn(options: &Options, function: &Function<'_>, ident: &Ident) -> TokenStream {
    let site = expand::site_static(options, SITE_FN_SUFFIX);
    let cfgs = function
        .outer_attrs()
        .filter(|attr| attr.path().is_ident("cfg"));
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code)]
        fn #ident() -> &'static ::cachetool::__private::Site {
            #site
            &__CACHETOOL_SITE
        }
    }
}

/// The suffix of a method's site function (see [`site_fn`]), dropped from
/// the marker's path as a companion's suffix is.
pub(crate) const SITE_FN_SUFFIX: &str = "__cachetool_site";

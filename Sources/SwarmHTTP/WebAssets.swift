/// The web page's files, compiled into the binary (`resources: [.embedInCode(...)]` in
/// Package.swift) from `Web/`: editable as plain HTML/CSS/JS, yet the executable needs no
/// resource bundle beside it, so it still works when installed or moved elsewhere
/// (`Bundle.module` would look for a bundle next to the binary and trap when it is missing).
enum WebAssets {
    /// The names served at the root besides `/` itself.
    static let names: Set<String> = ["app.js", "style.css"]

    /// The bytes and content type of `/` (name nil) or of asset `name`.
    static func asset(_ name: String?) -> (bytes: [UInt8], type: String)? {
        switch name {
        case nil: (PackageResources.index_html, "text/html; charset=utf-8")
        case "app.js": (PackageResources.app_js, "text/javascript; charset=utf-8")
        case "style.css": (PackageResources.style_css, "text/css; charset=utf-8")
        default: nil
        }
    }
}

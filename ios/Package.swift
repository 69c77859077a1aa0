// swift-tools-version:5.9
// The Carnet core for iOS and macOS: the generated Swift bindings over the Rust library,
// shipped as an XCFramework built by scripts/build-xcframework (on macOS).
import PackageDescription

let package = Package(
    name: "CarnetCore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "CarnetCore", targets: ["CarnetCore"]),
    ],
    targets: [
        .binaryTarget(name: "CarnetCoreFFI", path: "build/CarnetCoreFFI.xcframework"),
        .target(name: "CarnetCore", dependencies: ["CarnetCoreFFI"], path: "Sources/CarnetCore"),
    ]
)

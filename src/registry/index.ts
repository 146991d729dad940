// The registry client's public surface.
export { RegistryClient, type RegistryClientOptions, type BlobConfig, type ResolvedImage, type FetchedManifest } from "./client.js";
export { BlobReader, type ByteRange, type BlobReadOptions } from "./blob.js";
export { parseReference, formatReference, isDigest, type Reference } from "./reference.js";
export { endpointsFor, isLoopbackHost, type ResolverConfig, type HostConfig, type MirrorConfig, type Endpoint } from "./hosts.js";
export { fileCredentialProvider, chainCredentialProviders, authFilePaths, credentialsFromAuthFile, credentialHelperFor, type Credentials, type CredentialProvider, type CredentialTarget } from "./credentials.js";
export { EngineCredentials, type AddedCredentials } from "./engine-credentials.js";
export { helperCredentials } from "./credentials.js";
export { TlsTrust, DEFAULT_CERTS_DIRS, type TlsTrustOptions } from "./tls.js";
export { MediaType, hostPlatform, parsePlatform, formatPlatform, selectManifest, parseManifest, type Descriptor, type ImageManifest, type ImageIndex, type Platform } from "./manifest.js";
export { RegistryError, type RegistryErrorCode } from "./errors.js";
export { digestOf } from "./digest.js";
export type { UploadOptions, UploadResult } from "./push.js";
export type { ProxyConfig } from "./http.js";

# frozen_string_literal: true

require_relative "lib/mailroom_jwt/version"

Gem::Specification.new do |spec|
  spec.name = "gitlab-mailroom-jwt"
  spec.version = MailroomJWT::VERSION
  spec.summary = "Fast, constant-time, hardened HS256 JWTs for GitLab's incoming-email webhook"
  spec.description = <<~DESC
    One HS256 JWT implementation, with a C core on OpenSSL's libcrypto, for both ends of
    GitLab's mail_room webhook: a drop-in token signer and postback delivery for mail_room,
    and a drop-in JwtAuthenticatable concern, mailbox authenticator and internal API
    endpoint for GitLab. Strict parsing, pinned algorithm, constant-time MAC comparison,
    validated secret files, and retries that do not lose email.
  DESC
  spec.license = "MIT"
  spec.authors = ["gitlab-mailroom-jwt contributors"]
  spec.homepage = "https://rubygems.org/gems/gitlab-mailroom-jwt"
  spec.required_ruby_version = ">= 3.0"
  spec.metadata["rubygems_mfa_required"] = "true"

  spec.files = Dir[
    "lib/**/*.rb", "ext/**/*.{c,h,rb}", "exe/*", "README.md", "LICENSE", "gitlab-mailroom-jwt.gemspec"
  ]
  spec.bindir = "exe"
  spec.executables = Dir["exe/*"].map { |f| File.basename(f) }
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/mailroom_jwt/extconf.rb"]
end

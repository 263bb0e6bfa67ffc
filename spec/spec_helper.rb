# frozen_string_literal: true

require "json"
require "openssl"
require "mailroom_jwt"

# Shared helpers for specs (servers on 127.0.0.1, Redis, fixtures).
Dir[File.join(__dir__, "support", "**", "*.rb")].sort.each { |f| require f }

# The public vectors live beside the project, in ../shared/vectors/.
VECTORS_DIR = File.expand_path(ENV.fetch("MAILROOM_JWT_VECTORS", "../../shared/vectors"), __dir__)

module SpecHelpers
  def vector(name)
    path = File.join(VECTORS_DIR, name)
    raise "missing test vectors: #{path} (set MAILROOM_JWT_VECTORS)" unless File.file?(path)

    JSON.parse(File.read(path))
  end

  def b64url(bytes)
    [bytes].pack("m0").tr("+/", "-_").delete("=")
  end
end

RSpec.configure do |config|
  config.disable_monkey_patching!
  config.warnings = true
  config.order = :random
  Kernel.srand config.seed
  config.example_status_persistence_file_path = ".rspec_status"
  config.include SpecHelpers

  # GC_STRESS=1 runs each example under GC.stress; GC_COMPACT=1 compacts the
  # heap (and checks references) before the suite and compacts automatically.
  if ENV["GC_STRESS"] == "1"
    config.around do |example|
      GC.stress = true
      example.run
    ensure
      GC.stress = false
    end
  end
  if ENV["GC_COMPACT"] == "1"
    config.before(:suite) do
      GC.verify_compaction_references(double_heap: true, toward: :empty)
      GC.auto_compact = true
    end
    config.after(:suite) { GC.auto_compact = false }
  end

  # OpenSSL's error queue must be empty after each example: the core must
  # not leave errors behind for the next OpenSSL user in the process.
  config.after do
    expect(OpenSSL.errors).to eq([])
  end
end

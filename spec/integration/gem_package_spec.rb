# frozen_string_literal: true

require "open3"
require "rbconfig"
require "tmpdir"

# The packaged gem installs and compiles from source into an empty GEM_HOME,
# and works there without Bundler.
RSpec.describe "the packaged gem" do
  it "builds, installs from source and signs and verifies" do
    root = File.expand_path("../..", __dir__)
    Dir.mktmpdir do |dir|
      env = { "GEM_HOME" => File.join(dir, "gems"), "GEM_PATH" => File.join(dir, "gems"), "RUBYOPT" => nil,
              "BUNDLE_GEMFILE" => nil, "BUNDLER_SETUP" => nil }
      out, status = Open3.capture2e(env, "gem", "build", File.join(root, "gitlab-mailroom-jwt.gemspec"),
                                    "--output", File.join(dir, "pkg.gem"), chdir: root)
      expect(status).to be_success, out
      out, status = Open3.capture2e(env, "gem", "install", "--local", "--no-document", File.join(dir, "pkg.gem"))
      expect(status).to be_success, out
      script = 'require "mailroom_jwt"; k = MailroomJWT::Key.generate; ' \
               'print k.decode(k.encode(a: 1)).inspect, " ", $LOADED_FEATURES.grep(/mailroom_jwt\.so/).first'
      out, status = Open3.capture2e(env, RbConfig.ruby, "--disable-gems", "-rrubygems", "-e", script, chdir: dir)
      expect(status).to be_success, out
      expect(out).to start_with('[{"a"=>1}, {"alg"=>"HS256"}] ')
      expect(out).to include(File.join(dir, "gems"))
    end
  end
end

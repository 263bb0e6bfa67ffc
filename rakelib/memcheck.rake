# frozen_string_literal: true

# The spec suite under valgrind's memcheck through ruby_memcheck, which keeps
# only the errors and definite leaks whose stacks go through the extension
# (mailroom_jwt.so): Ruby's own allocations at exit are not reported.
#
#   rake memcheck         the whole suite (long: valgrind is 20-50 times slower)
#   rake memcheck:core    the specs of the C core and Key only (CI's short form)
#
# MEMCHECK_SCALE (default 0.02) scales the loop counts of the hardening specs
# (see spec/support/hardening.rb): the same code paths, fewer iterations.
require "ruby_memcheck"
require "ruby_memcheck/rspec/rake_task"

module MailroomMemcheck
  extend Rake::DSL
  CORE_PATTERN = "spec/native/**/*_spec.rb,spec/mailroom_jwt/key_spec.rb,spec/mailroom_jwt/key/**/*_spec.rb," \
                 "spec/mailroom_jwt/claims_spec.rb,spec/mailroom_jwt/compat_spec.rb,spec/mailroom_jwt/errors_spec.rb," \
                 "spec/mailroom_jwt_spec.rb"

  module_function

  def configuration
    @configuration ||= RubyMemcheck::Configuration.new(
      binary_name: "mailroom_jwt",
      # --vgdb=no: no gdbserver pipes (a child that drops privileges cannot
      # remove them). Children not traced: redis-server (not ours), and
      # `mailroom-jwt serve`, which the fault specs kill with SIGKILL: a killed
      # child leaves a truncated XML report that ruby_memcheck cannot read.
      valgrind_options: RubyMemcheck::Configuration::DEFAULT_VALGRIND_OPTIONS +
                        ["--vgdb=no", "--trace-children-skip=*redis-server*", "--trace-children-skip-by-arg=serve"]
    )
  end

  def define(name, pattern, description)
    desc description
    RubyMemcheck::RSpec::RakeTask.new(configuration, name) do |t|
      t.pattern = pattern
      t.ruby_opts = ["-w"]
      t.rspec_opts = "--format progress"
    end
    # Report what was checked; ruby_memcheck raises (and prints each error)
    # when anything attributable to the extension was found.
    task(name).enhance([:compile, :memcheck_env]) do
      puts "memcheck #{name}: 0 errors and 0 definite leaks attributable to mailroom_jwt.so " \
           "(#{MailroomMemcheck.set_aside} empty reports of untraced or killed children set aside)"
    end
  end
end

module MailroomMemcheck
  # A traced process that then execs a program valgrind does not trace (a
  # spawned redis-server or serve), or that is killed, leaves an XML report
  # without its closing tag, which ruby_memcheck cannot read. Such a report
  # that holds no <error> element is set aside and counted; one that holds an
  # error is still parsed (and so fails the task, loudly).
  module SetAsideEmptyTruncatedReports
    private

    def valgrind_xml_files
      @valgrind_xml_files ||= super.reject { |file| MailroomMemcheck.empty_truncated?(file) }.freeze
    end
  end

  def self.empty_truncated?(file)
    tail = File.open(file, "rb") { |f| f.seek([f.size - 64, 0].max); f.read }
    return false if tail.include?("</valgrindoutput>")
    return false if File.foreach(file).any? { |line| line.include?("<error>") }

    @set_aside = (@set_aside || 0) + 1
    true
  end

  def self.set_aside
    @set_aside || 0
  end
end
RubyMemcheck::TestTaskReporter.prepend(MailroomMemcheck::SetAsideEmptyTruncatedReports)

task :memcheck_env do
  ENV["MAILROOM_JWT_SCALE"] = ENV.fetch("MEMCHECK_SCALE", "0.02")
end

MailroomMemcheck.define(:memcheck, "spec/**/*_spec.rb", "The whole spec suite under valgrind (ruby_memcheck)")
namespace :memcheck do
  MailroomMemcheck.define(:core, MailroomMemcheck::CORE_PATTERN, "The C core and Key specs under valgrind (ruby_memcheck)")
end

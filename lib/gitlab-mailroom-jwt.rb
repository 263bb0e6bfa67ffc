# frozen_string_literal: true

require "mailroom_jwt"

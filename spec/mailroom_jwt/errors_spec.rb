# frozen_string_literal: true

RSpec.describe "MailroomJWT errors" do
  it "form one hierarchy under MailroomJWT::Error with ruby-jwt's names" do
    expect(MailroomJWT::Error.superclass).to eq(StandardError)
    %i[EncodeError DecodeError SecretFileError].each do |name|
      expect(MailroomJWT.const_get(name).superclass).to eq(MailroomJWT::Error)
    end
    %i[VerificationError ExpiredSignature ImmatureSignature IncorrectAlgorithm InvalidIssuerError InvalidIatError
       InvalidAudError InvalidPayload MissingRequiredClaim].each do |name|
      expect(MailroomJWT.const_get(name).superclass).to eq(MailroomJWT::DecodeError)
    end
  end

  it "has a counterpart of the same name in ruby-jwt for every DecodeError subclass" do
    require "jwt"
    MailroomJWT.constants.map { |c| MailroomJWT.const_get(c) }
               .select { |c| c.is_a?(Class) && c < MailroomJWT::DecodeError }
               .each { |c| expect(JWT.const_get(c.name.split("::").last)).to be < JWT::DecodeError }
  end
end

import { buildSchema, isInputObjectType, isObjectType, type GraphQLArgument, type GraphQLInputField } from 'graphql';
import { loadTypeDefs } from '../../src/graphql/server.js';
import { DEFAULT_MIN_SCORE } from '../../src/services/catalogue.service.js';
import { EMPTY_SEARCH } from '../../web/src/search-terms.js';

/** Every `minScore` argument and input field of the schema, by coordinate, with its default. */
function minScoreDefaults(): Record<string, unknown> {
  const schema = buildSchema(loadTypeDefs());
  const found: Record<string, unknown> = {};
  const note = (coordinate: string, field: GraphQLArgument | GraphQLInputField) => {
    if (field.name === 'minScore') found[coordinate] = field.defaultValue;
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isInputObjectType(type)) for (const field of Object.values(type.getFields())) note(`${type.name}.${field.name}`, field);
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) for (const arg of field.args) note(`${type.name}.${field.name}(${arg.name}:)`, arg);
    }
  }
  return found;
}

describe('the default search minScore', () => {
  it('is the one constant, in every search default of the SDL', () => {
    expect(DEFAULT_MIN_SCORE).toBe(0.3);
    expect(minScoreDefaults()).toEqual({
      'ImageFilter.minScore': DEFAULT_MIN_SCORE,
      'SegmentFilter.minScore': DEFAULT_MIN_SCORE,
      'ExtractSegmentsInput.minScore': DEFAULT_MIN_SCORE,
      'Query.labels(minScore:)': DEFAULT_MIN_SCORE,
      'Query.categories(minScore:)': DEFAULT_MIN_SCORE,
      // An image's own segments: every one the model kept, unless asked otherwise.
      'Image.segments(minScore:)': 0,
    });
  });

  it("is the gallery's score slider default", () => {
    expect(EMPTY_SEARCH.minScore).toBe(DEFAULT_MIN_SCORE);
  });
});

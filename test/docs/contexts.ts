// What a checked block may take from the text around it. `with=server,session` in a block's
// info string declares those names, with these types, before the block; the block is then
// type-checked like any other. Only names a reader would find defined in the surrounding prose
// belong here: anything else, the block defines itself.

/** Names a block may declare with `with=`, and their TypeScript types. */
export const CONTEXT: Record<string, string> = {
  server: "import('jetstream').Server",
  session: "import('jetstream').Session",
  scope: "import('jetstream').Scope",
  canvasScope: "import('jetstream').Scope",
  /** The application's own scopes by name (server.md's read-only grants). */
  scopes: "Map<string, import('jetstream').Scope>",
  /** The application's own checks, in server.md's hook examples. */
  valid: '(token: unknown) => boolean',
  checkUser: '(params: Record<string, unknown>) => Promise<void>',
  lookupScope: "(name: string, params: Record<string, unknown>) => Promise<import('jetstream').Scope>",
  /** A pino-style logger (server.md's audit example). */
  audit: "import('jetstream').Logger",
  /** Uuids of objects in protocol.md's chat examples (§10). */
  annUuid: 'string',
  messageUuid: 'string',
  m1: 'string',
  m2: 'string',
};

/** The declarations a block's `with=` asks for, in the block's language (one line each). */
export function declarations(names: string[], typescript: boolean): string[] {
  return names.map((name) => {
    const type = CONTEXT[name];
    if (type === undefined) throw new Error(`with=${name}: test/docs/contexts.ts declares no '${name}'`);
    return typescript
      ? `declare const ${name}: ${type};`
      : `/** @type {${type}} */ const ${name} = /** @type {any} */ (undefined);`;
  });
}

/**
 * `./models.js` for blocks that import the models the docs talk about (the demo's shapes and
 * chat). A document that shows its own models.ts (`name=models.ts`) gets that one instead.
 */
export const MODELS_MODULE = `import { defineModel } from 'jetstream';

export const Shape = defineModel('Shape', { x: Number, y: Number, width: Number, height: Number, type: Number });
export const Canvas = defineModel('Canvas', { name: String, shapes: [Shape] });
export const User = defineModel('User', { username: String, color: Number, lastActive: Date });
export const Message = defineModel('Message', { author: User, postedAt: Date, text: String });
export const ChatRoomAttributes = defineModel('ChatRoomAttributes', {
  status: String,
  topic: String,
  tintColor: Number,
  locale: String,
});
export const ChatRoom = defineModel('ChatRoom', {
  name: String,
  attributes: ChatRoomAttributes,
  users: [User],
  messages: [Message],
});
export const Note = defineModel('Note', { text: String });
`;

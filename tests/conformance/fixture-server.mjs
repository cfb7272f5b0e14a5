#!/usr/bin/env node
// The stdio MCP server that tests/e2e/conformance.sh puts behind forgejo-mcp-brokerd.
// It offers the tools, resources, prompts and completions that the server
// scenarios of @modelcontextprotocol/conformance 0.1.16 call by name (each
// scenario's description in the suite says what it expects back), so that the
// suite, pointed at the broker's /mcp, checks the broker and not this server.
//
// stdout carries JSON-RPC only; anything for people goes to stderr.

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const NAME = 'fmb-conformance-fixture';

// 1x1 PNGs (red, blue) and 50 ms of 8 kHz 16-bit mono silence as WAV.
const RED_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';
const BLUE_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYPgPAAEDAQAIicLsAAAAAElFTkSuQmCC';
const SILENCE_WAV = (() => {
  const samples = 400;
  const wav = Buffer.alloc(44 + 2 * samples);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + 2 * samples, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16); // size of the fmt chunk
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(8000, 24); // samples per second
  wav.writeUInt32LE(16000, 28); // bytes per second
  wav.writeUInt16LE(2, 32); // bytes per frame
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36);
  wav.writeUInt32LE(2 * samples, 40);
  return wav.toString('base64');
})();

const pause = (ms) => new Promise((done) => setTimeout(done, ms));
const textBlock = (text) => ({ type: 'text', text });
const imageBlock = (data) => ({ type: 'image', data, mimeType: 'image/png' });
const failed = (message) => ({ isError: true, content: [textBlock(message)] });
const noArguments = { type: 'object', properties: {} };
const oneString = (name, description) => ({
  type: 'object',
  properties: { [name]: { type: 'string', description } },
  required: [name],
});

const server = new Server(
  { name: NAME, version: '1.0.0' },
  {
    capabilities: {
      tools: {},
      resources: { subscribe: true },
      prompts: {},
      logging: {},
      completions: {},
    },
  },
);

// --- logging: notifications/message below the level the client set are dropped
const levels = LoggingLevelSchema.options;
let lowestLevel = 0;
server.setRequestHandler(SetLevelRequestSchema, async ({ params }) => {
  lowestLevel = levels.indexOf(params.level);
  return {};
});
async function logInfo(ctx, data) {
  if (levels.indexOf('info') >= lowestLevel) {
    await ctx.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: NAME, data } });
  }
}

// --- requests from this server to the client, through the broker
async function askClientToElicit(ctx, message, properties) {
  if (!server.getClientCapabilities()?.elicitation) {
    return failed('Client did not declare the elicitation capability');
  }
  const answer = await ctx.sendRequest(
    { method: 'elicitation/create', params: { message, requestedSchema: { type: 'object', properties } } },
    ElicitResultSchema,
  );
  return { content: [textBlock(`Elicitation answered: ${JSON.stringify(answer)}`)] };
}

const choices = (prefix, word) =>
  ['First', 'Second', 'Third'].map((rank, i) => ({ const: `${prefix}${i + 1}`, title: `${rank} ${word}` }));

// --- tools: name -> { description, inputSchema, call(args, ctx, request) }
const tools = {
  test_simple_text: {
    description: 'One text block',
    call: async () => ({ content: [textBlock('This is a simple text response for testing.')] }),
  },
  test_image_content: {
    description: 'One image block (a red pixel)',
    call: async () => ({ content: [imageBlock(RED_PNG)] }),
  },
  test_audio_content: {
    description: 'One audio block (silence)',
    call: async () => ({ content: [{ type: 'audio', data: SILENCE_WAV, mimeType: 'audio/wav' }] }),
  },
  test_embedded_resource: {
    description: 'One embedded text resource',
    call: async () => ({
      content: [
        {
          type: 'resource',
          resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' },
        },
      ],
    }),
  },
  test_multiple_content_types: {
    description: 'Text, image and an embedded resource in one result',
    call: async () => ({
      content: [
        textBlock('Multiple content types test:'),
        imageBlock(RED_PNG),
        {
          type: 'resource',
          resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' },
        },
      ],
    }),
  },
  test_tool_with_logging: {
    description: 'Logs three info messages 50 ms apart, then answers',
    call: async (_args, ctx) => {
      await logInfo(ctx, 'Tool execution started');
      await pause(50);
      await logInfo(ctx, 'Tool processing data');
      await pause(50);
      await logInfo(ctx, 'Tool execution completed');
      return { content: [textBlock('Logged three messages.')] };
    },
  },
  test_tool_with_progress: {
    description: 'Reports progress 0, 50 and 100 of 100, 50 ms apart, then answers',
    call: async (_args, ctx, request) => {
      const progressToken = request.params._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progress > 0) await pause(50);
        if (progressToken !== undefined) {
          await ctx.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
        }
      }
      return { content: [textBlock(`Progress reported for token ${JSON.stringify(progressToken)}.`)] };
    },
  },
  test_error_handling: {
    description: 'Fails with isError: true',
    call: async () => failed('This tool intentionally returns an error for testing'),
  },
  test_sampling: {
    description: 'Asks the client for an LLM completion of the prompt',
    inputSchema: oneString('prompt', 'What to ask the LLM'),
    call: async ({ prompt }, ctx) => {
      if (!server.getClientCapabilities()?.sampling) {
        return failed('Client did not declare the sampling capability');
      }
      const reply = await ctx.sendRequest(
        { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: textBlock(prompt) }], maxTokens: 100 } },
        CreateMessageResultSchema,
      );
      const blocks = [reply.content].flat();
      return { content: [textBlock(`LLM response: ${blocks.map((b) => b.text ?? `[${b.type}]`).join(' ')}`)] };
    },
  },
  test_elicitation: {
    description: 'Asks the user for a name and an e-mail address',
    inputSchema: oneString('message', 'What to show the user'),
    call: async ({ message }, ctx) =>
      askClientToElicit(ctx, message, {
        username: { type: 'string', description: 'Your user name' },
        email: { type: 'string', description: 'Your e-mail address' },
      }),
  },
  test_elicitation_sep1034_defaults: {
    description: 'Elicitation with a default for each primitive type (SEP-1034)',
    call: async (_args, ctx) =>
      askClientToElicit(ctx, 'Check the pre-filled values', {
        name: { type: 'string', default: 'John Doe' },
        age: { type: 'integer', default: 30 },
        score: { type: 'number', default: 95.5 },
        status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', default: true },
      }),
  },
  test_elicitation_sep1330_enums: {
    description: 'Elicitation with the five enum forms (SEP-1330)',
    call: async (_args, ctx) =>
      askClientToElicit(ctx, 'Pick some options', {
        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        titledSingle: { type: 'string', oneOf: choices('value', 'Option') },
        legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
        untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: { type: 'array', items: { anyOf: choices('value', 'Choice') } },
      }),
  },
  json_schema_2020_12_tool: {
    description: 'Tool with JSON Schema 2020-12 features',
    // Sent as is: the scenario checks that $schema, $defs and additionalProperties arrive.
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    },
    call: async (args) => ({ content: [textBlock(`Received: ${JSON.stringify(args)}`)] }),
  },
  test_reconnection: {
    description: 'Answers after 200 ms (the SSE polling scenario calls it)',
    call: async () => {
      await pause(200);
      return { content: [textBlock('Reconnection test completed successfully')] };
    },
  },
};

server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: Object.entries(tools).map(([name, tool]) => ({
    name,
    description: tool.description,
    inputSchema: tool.inputSchema ?? noArguments,
  })),
}));

server.setRequestHandler(CallToolRequestSchema, async (request, ctx) => {
  const tool = tools[request.params.name];
  if (!tool) throw new McpError(ErrorCode.InvalidParams, `No tool named ${request.params.name}`);
  const args = request.params.arguments ?? {};
  const missing = (tool.inputSchema?.required ?? []).filter((key) => typeof args[key] !== 'string');
  if (missing.length > 0) return failed(`Missing string argument(s): ${missing.join(', ')}`);
  try {
    return await tool.call(args, ctx, request);
  } catch (error) {
    console.error(`${NAME}: ${request.params.name}:`, error);
    return failed(`${request.params.name} failed: ${error?.message ?? error}`);
  }
});

// --- resources: three fixed ones and one template
const subscribed = new Set();
const resources = {
  'test://static-text': {
    name: 'static-text',
    mimeType: 'text/plain',
    body: () => ({ text: 'This is the content of the static text resource.' }),
  },
  'test://static-binary': { name: 'static-binary', mimeType: 'image/png', body: () => ({ blob: BLUE_PNG }) },
  'test://watched-resource': {
    name: 'watched-resource',
    mimeType: 'text/plain',
    body: () => ({ text: `Watched: ${subscribed.has('test://watched-resource') ? 'yes' : 'no'}` }),
  },
};
const TEMPLATE = 'test://template/{id}/data';
const templateMatch = /^test:\/\/template\/([^/]+)\/data$/;

server.setRequestHandler(ListResourcesRequestSchema, async () => ({
  resources: Object.entries(resources).map(([uri, r]) => ({ uri, name: r.name, mimeType: r.mimeType })),
}));
server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
  resourceTemplates: [{ uriTemplate: TEMPLATE, name: 'template-data', mimeType: 'application/json' }],
}));
server.setRequestHandler(ReadResourceRequestSchema, async ({ params: { uri } }) => {
  if (resources[uri]) return { contents: [{ uri, mimeType: resources[uri].mimeType, ...resources[uri].body() }] };
  const id = templateMatch.exec(uri)?.[1];
  if (id === undefined) throw new McpError(-32002, `Resource not found: ${uri}`, { uri });
  const data = { id: decodeURIComponent(id), templateTest: true, data: `Data for ID: ${decodeURIComponent(id)}` };
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(data) }] };
});
server.setRequestHandler(SubscribeRequestSchema, async ({ params }) => {
  subscribed.add(params.uri);
  return {};
});
server.setRequestHandler(UnsubscribeRequestSchema, async ({ params }) => {
  subscribed.delete(params.uri);
  return {};
});

// --- prompts: name -> { arguments, messages(args) }
const user = (content) => ({ role: 'user', content });
const prompts = {
  test_simple_prompt: {
    description: 'A prompt without arguments',
    arguments: [],
    messages: () => [user(textBlock('This is a simple prompt for testing.'))],
  },
  test_prompt_with_arguments: {
    description: 'A prompt with two arguments',
    arguments: ['arg1', 'arg2'],
    messages: ({ arg1, arg2 }) => [user(textBlock(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`))],
  },
  test_prompt_with_embedded_resource: {
    description: 'A prompt that embeds the resource it is given',
    arguments: ['resourceUri'],
    messages: ({ resourceUri }) => [
      user({ type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } }),
      user(textBlock('Please process the embedded resource above.')),
    ],
  },
  test_prompt_with_image: {
    description: 'A prompt with an image',
    arguments: [],
    messages: () => [user(imageBlock(RED_PNG)), user(textBlock('Please analyze the image above.'))],
  },
};

server.setRequestHandler(ListPromptsRequestSchema, async () => ({
  prompts: Object.entries(prompts).map(([name, p]) => ({
    name,
    description: p.description,
    arguments: p.arguments.map((arg) => ({ name: arg, required: true })),
  })),
}));
server.setRequestHandler(GetPromptRequestSchema, async ({ params }) => {
  const prompt = prompts[params.name];
  if (!prompt) throw new McpError(ErrorCode.InvalidParams, `No prompt named ${params.name}`);
  const args = params.arguments ?? {};
  const missing = prompt.arguments.filter((arg) => args[arg] === undefined);
  if (missing.length > 0) throw new McpError(ErrorCode.InvalidParams, `Missing argument(s): ${missing.join(', ')}`);
  return { messages: prompt.messages(args) };
});

// --- completions for the prompt arguments and the template's {id}
const completions = {
  'test_prompt_with_arguments/arg1': ['paris', 'park', 'party', 'test', 'testValue1'],
  'test_prompt_with_arguments/arg2': ['hello', 'world', 'testValue2'],
  [`${TEMPLATE}/id`]: ['1', '2', '3', '123'],
};
server.setRequestHandler(CompleteRequestSchema, async ({ params: { ref, argument } }) => {
  const candidates = completions[`${ref.name ?? ref.uri}/${argument.name}`] ?? [];
  const values = candidates.filter((value) => value.startsWith(argument.value ?? ''));
  return { completion: { values, total: values.length, hasMore: false } };
});

server.onerror = (error) => console.error(`${NAME}:`, error);
server.onclose = () => process.exit(0);
process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());

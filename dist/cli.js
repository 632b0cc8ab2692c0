#!/usr/bin/env node
import { promisify, parseArgs } from 'node:util';
import fs, { readFile, mkdtemp, mkdir, chmod, writeFile, rm } from 'node:fs/promises';
import { isIPv6, isIP, createServer } from 'node:net';
import * as os from 'node:os';
import os__default, { homedir, constants, hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import path__default, { posix, basename, join, resolve } from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { promises, constants as constants$1, createReadStream, createWriteStream, existsSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { createGunzip, inflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ALIAS = Symbol.for('yaml.alias');
const DOC = Symbol.for('yaml.document');
const MAP = Symbol.for('yaml.map');
const PAIR = Symbol.for('yaml.pair');
const SCALAR$1 = Symbol.for('yaml.scalar');
const SEQ = Symbol.for('yaml.seq');
const NODE_TYPE = Symbol.for('yaml.node.type');
const isAlias = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === ALIAS;
const isDocument = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === DOC;
const isMap = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === MAP;
const isPair = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === PAIR;
const isScalar = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === SCALAR$1;
const isSeq = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === SEQ;
function isCollection(node) {
    if (node && typeof node === 'object')
        switch (node[NODE_TYPE]) {
            case MAP:
            case SEQ:
                return true;
        }
    return false;
}
function isNode(node) {
    if (node && typeof node === 'object')
        switch (node[NODE_TYPE]) {
            case ALIAS:
            case MAP:
            case SCALAR$1:
            case SEQ:
                return true;
        }
    return false;
}
const hasAnchor = (node) => (isScalar(node) || isCollection(node)) && !!node.anchor;

const BREAK = Symbol('break visit');
const SKIP = Symbol('skip children');
const REMOVE = Symbol('remove node');
/**
 * Apply a visitor to an AST node or document.
 *
 * Walks through the tree (depth-first) starting from `node`, calling a
 * `visitor` function with three arguments:
 *   - `key`: For sequence values and map `Pair`, the node's index in the
 *     collection. Within a `Pair`, `'key'` or `'value'`, correspondingly.
 *     `null` for the root node.
 *   - `node`: The current node.
 *   - `path`: The ancestry of the current node.
 *
 * The return value of the visitor may be used to control the traversal:
 *   - `undefined` (default): Do nothing and continue
 *   - `visit.SKIP`: Do not visit the children of this node, continue with next
 *     sibling
 *   - `visit.BREAK`: Terminate traversal completely
 *   - `visit.REMOVE`: Remove the current node, then continue with the next one
 *   - `Node`: Replace the current node, then continue by visiting it
 *   - `number`: While iterating the items of a sequence or map, set the index
 *     of the next step. This is useful especially if the index of the current
 *     node has changed.
 *
 * If `visitor` is a single function, it will be called with all values
 * encountered in the tree, including e.g. `null` values. Alternatively,
 * separate visitor functions may be defined for each `Map`, `Pair`, `Seq`,
 * `Alias` and `Scalar` node. To define the same visitor function for more than
 * one node type, use the `Collection` (map and seq), `Value` (map, seq & scalar)
 * and `Node` (alias, map, seq & scalar) targets. Of all these, only the most
 * specific defined one will be used for each node.
 */
function visit(node, visitor) {
    const visitor_ = initVisitor(visitor);
    if (isDocument(node)) {
        const cd = visit_(null, node.contents, visitor_, Object.freeze([node]));
        if (cd === REMOVE)
            node.contents = null;
    }
    else
        visit_(null, node, visitor_, Object.freeze([]));
}
// Without the `as symbol` casts, TS declares these in the `visit`
// namespace using `var`, but then complains about that because
// `unique symbol` must be `const`.
/** Terminate visit traversal completely */
visit.BREAK = BREAK;
/** Do not visit the children of the current node */
visit.SKIP = SKIP;
/** Remove the current node */
visit.REMOVE = REMOVE;
function visit_(key, node, visitor, path) {
    const ctrl = callVisitor(key, node, visitor, path);
    if (isNode(ctrl) || isPair(ctrl)) {
        replaceNode(key, path, ctrl);
        return visit_(key, ctrl, visitor, path);
    }
    if (typeof ctrl !== 'symbol') {
        if (isCollection(node)) {
            path = Object.freeze(path.concat(node));
            for (let i = 0; i < node.items.length; ++i) {
                const ci = visit_(i, node.items[i], visitor, path);
                if (typeof ci === 'number')
                    i = ci - 1;
                else if (ci === BREAK)
                    return BREAK;
                else if (ci === REMOVE) {
                    node.items.splice(i, 1);
                    i -= 1;
                }
            }
        }
        else if (isPair(node)) {
            path = Object.freeze(path.concat(node));
            const ck = visit_('key', node.key, visitor, path);
            if (ck === BREAK)
                return BREAK;
            else if (ck === REMOVE)
                node.key = null;
            const cv = visit_('value', node.value, visitor, path);
            if (cv === BREAK)
                return BREAK;
            else if (cv === REMOVE)
                node.value = null;
        }
    }
    return ctrl;
}
function initVisitor(visitor) {
    if (typeof visitor === 'object' &&
        (visitor.Collection || visitor.Node || visitor.Value)) {
        return Object.assign({
            Alias: visitor.Node,
            Map: visitor.Node,
            Scalar: visitor.Node,
            Seq: visitor.Node
        }, visitor.Value && {
            Map: visitor.Value,
            Scalar: visitor.Value,
            Seq: visitor.Value
        }, visitor.Collection && {
            Map: visitor.Collection,
            Seq: visitor.Collection
        }, visitor);
    }
    return visitor;
}
function callVisitor(key, node, visitor, path) {
    if (typeof visitor === 'function')
        return visitor(key, node, path);
    if (isMap(node))
        return visitor.Map?.(key, node, path);
    if (isSeq(node))
        return visitor.Seq?.(key, node, path);
    if (isPair(node))
        return visitor.Pair?.(key, node, path);
    if (isScalar(node))
        return visitor.Scalar?.(key, node, path);
    if (isAlias(node))
        return visitor.Alias?.(key, node, path);
    return undefined;
}
function replaceNode(key, path, node) {
    const parent = path[path.length - 1];
    if (isCollection(parent)) {
        parent.items[key] = node;
    }
    else if (isPair(parent)) {
        if (key === 'key')
            parent.key = node;
        else
            parent.value = node;
    }
    else if (isDocument(parent)) {
        parent.contents = node;
    }
    else {
        const pt = isAlias(parent) ? 'alias' : 'scalar';
        throw new Error(`Cannot replace node with ${pt} parent`);
    }
}

const escapeChars = {
    '!': '%21',
    ',': '%2C',
    '[': '%5B',
    ']': '%5D',
    '{': '%7B',
    '}': '%7D'
};
const escapeTagName = (tn) => tn.replace(/[!,[\]{}]/g, ch => escapeChars[ch]);
class Directives {
    constructor(yaml, tags) {
        /**
         * The directives-end/doc-start marker `---`. If `null`, a marker may still be
         * included in the document's stringified representation.
         */
        this.docStart = null;
        /** The doc-end marker `...`.  */
        this.docEnd = false;
        this.yaml = Object.assign({}, Directives.defaultYaml, yaml);
        this.tags = Object.assign({}, Directives.defaultTags, tags);
    }
    clone() {
        const copy = new Directives(this.yaml, this.tags);
        copy.docStart = this.docStart;
        return copy;
    }
    /**
     * During parsing, get a Directives instance for the current document and
     * update the stream state according to the current version's spec.
     */
    atDocument() {
        const res = new Directives(this.yaml, this.tags);
        switch (this.yaml.version) {
            case '1.1':
                this.atNextDocument = true;
                break;
            case '1.2':
                this.atNextDocument = false;
                this.yaml = {
                    explicit: Directives.defaultYaml.explicit,
                    version: '1.2'
                };
                this.tags = Object.assign({}, Directives.defaultTags);
                break;
        }
        return res;
    }
    /**
     * @param onError - May be called even if the action was successful
     * @returns `true` on success
     */
    add(line, onError) {
        if (this.atNextDocument) {
            this.yaml = { explicit: Directives.defaultYaml.explicit, version: '1.1' };
            this.tags = Object.assign({}, Directives.defaultTags);
            this.atNextDocument = false;
        }
        const parts = line.trim().split(/[ \t]+/);
        const name = parts.shift();
        switch (name) {
            case '%TAG': {
                if (parts.length !== 2) {
                    onError(0, '%TAG directive should contain exactly two parts');
                    if (parts.length < 2)
                        return false;
                }
                const [handle, prefix] = parts;
                this.tags[handle] = prefix;
                return true;
            }
            case '%YAML': {
                this.yaml.explicit = true;
                if (parts.length !== 1) {
                    onError(0, '%YAML directive should contain exactly one part');
                    return false;
                }
                const [version] = parts;
                if (version === '1.1' || version === '1.2') {
                    this.yaml.version = version;
                    return true;
                }
                else {
                    const isValid = /^\d+\.\d+$/.test(version);
                    onError(6, `Unsupported YAML version ${version}`, isValid);
                    return false;
                }
            }
            default:
                onError(0, `Unknown directive ${name}`, true);
                return false;
        }
    }
    /**
     * Resolves a tag, matching handles to those defined in %TAG directives.
     *
     * @returns Resolved tag, which may also be the non-specific tag `'!'` or a
     *   `'!local'` tag, or `null` if unresolvable.
     */
    tagName(source, onError) {
        if (source === '!')
            return '!'; // non-specific tag
        if (source[0] !== '!') {
            onError(`Not a valid tag: ${source}`);
            return null;
        }
        if (source[1] === '<') {
            const verbatim = source.slice(2, -1);
            if (verbatim === '!' || verbatim === '!!') {
                onError(`Verbatim tags aren't resolved, so ${source} is invalid.`);
                return null;
            }
            if (source[source.length - 1] !== '>')
                onError('Verbatim tags must end with a >');
            return verbatim;
        }
        const [, handle, suffix] = source.match(/^(.*!)([^!]*)$/s);
        if (!suffix)
            onError(`The ${source} tag has no suffix`);
        const prefix = this.tags[handle];
        if (prefix) {
            try {
                return prefix + decodeURIComponent(suffix);
            }
            catch (error) {
                onError(String(error));
                return null;
            }
        }
        if (handle === '!')
            return source; // local tag
        onError(`Could not resolve tag: ${source}`);
        return null;
    }
    /**
     * Given a fully resolved tag, returns its printable string form,
     * taking into account current tag prefixes and defaults.
     */
    tagString(tag) {
        for (const [handle, prefix] of Object.entries(this.tags)) {
            if (tag.startsWith(prefix))
                return handle + escapeTagName(tag.substring(prefix.length));
        }
        return tag[0] === '!' ? tag : `!<${tag}>`;
    }
    toString(doc) {
        const lines = this.yaml.explicit
            ? [`%YAML ${this.yaml.version || '1.2'}`]
            : [];
        const tagEntries = Object.entries(this.tags);
        let tagNames;
        if (doc && tagEntries.length > 0 && isNode(doc.contents)) {
            const tags = {};
            visit(doc.contents, (_key, node) => {
                if (isNode(node) && node.tag)
                    tags[node.tag] = true;
            });
            tagNames = Object.keys(tags);
        }
        else
            tagNames = [];
        for (const [handle, prefix] of tagEntries) {
            if (handle === '!!' && prefix === 'tag:yaml.org,2002:')
                continue;
            if (!doc || tagNames.some(tn => tn.startsWith(prefix)))
                lines.push(`%TAG ${handle} ${prefix}`);
        }
        return lines.join('\n');
    }
}
Directives.defaultYaml = { explicit: false, version: '1.2' };
Directives.defaultTags = { '!!': 'tag:yaml.org,2002:' };

/**
 * Verify that the input string is a valid anchor.
 *
 * Will throw on errors.
 */
function anchorIsValid(anchor) {
    if (/[\x00-\x19\s,[\]{}]/.test(anchor)) {
        const sa = JSON.stringify(anchor);
        const msg = `Anchor must not contain whitespace or control characters: ${sa}`;
        throw new Error(msg);
    }
    return true;
}
function anchorNames(root) {
    const anchors = new Set();
    visit(root, {
        Value(_key, node) {
            if (node.anchor)
                anchors.add(node.anchor);
        }
    });
    return anchors;
}
/** Find a new anchor name with the given `prefix` and a one-indexed suffix. */
function findNewAnchor(prefix, exclude) {
    for (let i = 1; true; ++i) {
        const name = `${prefix}${i}`;
        if (!exclude.has(name))
            return name;
    }
}
function createNodeAnchors(doc, prefix) {
    const aliasObjects = [];
    const sourceObjects = new Map();
    let prevAnchors = null;
    return {
        onAnchor: (source) => {
            aliasObjects.push(source);
            prevAnchors ?? (prevAnchors = anchorNames(doc));
            const anchor = findNewAnchor(prefix, prevAnchors);
            prevAnchors.add(anchor);
            return anchor;
        },
        /**
         * With circular references, the source node is only resolved after all
         * of its child nodes are. This is why anchors are set only after all of
         * the nodes have been created.
         */
        setAnchors: () => {
            for (const source of aliasObjects) {
                const ref = sourceObjects.get(source);
                if (typeof ref === 'object' &&
                    ref.anchor &&
                    (isScalar(ref.node) || isCollection(ref.node))) {
                    ref.node.anchor = ref.anchor;
                }
                else {
                    const error = new Error('Failed to resolve repeated object (this should not happen)');
                    error.source = source;
                    throw error;
                }
            }
        },
        sourceObjects
    };
}

/**
 * Applies the JSON.parse reviver algorithm as defined in the ECMA-262 spec,
 * in section 24.5.1.1 "Runtime Semantics: InternalizeJSONProperty" of the
 * 2021 edition: https://tc39.es/ecma262/#sec-json.parse
 *
 * Includes extensions for handling Map and Set objects.
 */
function applyReviver(reviver, obj, key, val) {
    if (val && typeof val === 'object') {
        if (Array.isArray(val)) {
            for (let i = 0, len = val.length; i < len; ++i) {
                const v0 = val[i];
                const v1 = applyReviver(reviver, val, String(i), v0);
                // eslint-disable-next-line @typescript-eslint/no-array-delete
                if (v1 === undefined)
                    delete val[i];
                else if (v1 !== v0)
                    val[i] = v1;
            }
        }
        else if (val instanceof Map) {
            for (const k of Array.from(val.keys())) {
                const v0 = val.get(k);
                const v1 = applyReviver(reviver, val, k, v0);
                if (v1 === undefined)
                    val.delete(k);
                else if (v1 !== v0)
                    val.set(k, v1);
            }
        }
        else if (val instanceof Set) {
            for (const v0 of Array.from(val)) {
                const v1 = applyReviver(reviver, val, v0, v0);
                if (v1 === undefined)
                    val.delete(v0);
                else if (v1 !== v0) {
                    val.delete(v0);
                    val.add(v1);
                }
            }
        }
        else {
            for (const [k, v0] of Object.entries(val)) {
                const v1 = applyReviver(reviver, val, k, v0);
                if (v1 === undefined)
                    delete val[k];
                else if (v1 !== v0)
                    val[k] = v1;
            }
        }
    }
    return reviver.call(obj, key, val);
}

/**
 * Recursively convert any node or its contents to native JavaScript
 *
 * @param value - The input value
 * @param arg - If `value` defines a `toJSON()` method, use this
 *   as its first argument
 * @param ctx - Conversion context, originally set in Document#toJS(). If
 *   `{ keep: true }` is not set, output should be suitable for JSON
 *   stringification.
 */
function toJS(value, arg, ctx) {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    if (Array.isArray(value))
        return value.map((v, i) => toJS(v, String(i), ctx));
    if (value && typeof value.toJSON === 'function') {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-call
        if (!ctx || !hasAnchor(value))
            return value.toJSON(arg, ctx);
        const data = { aliasCount: 0, count: 1, res: undefined };
        ctx.anchors.set(value, data);
        ctx.onCreate = res => {
            data.res = res;
            delete ctx.onCreate;
        };
        const res = value.toJSON(arg, ctx);
        if (ctx.onCreate)
            ctx.onCreate(res);
        return res;
    }
    if (typeof value === 'bigint' && !ctx?.keep)
        return Number(value);
    return value;
}

class NodeBase {
    constructor(type) {
        Object.defineProperty(this, NODE_TYPE, { value: type });
    }
    /** Create a copy of this node.  */
    clone() {
        const copy = Object.create(Object.getPrototypeOf(this), Object.getOwnPropertyDescriptors(this));
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /** A plain JavaScript representation of this node. */
    toJS(doc, { mapAsMap, maxAliasCount, onAnchor, reviver } = {}) {
        if (!isDocument(doc))
            throw new TypeError('A document argument is required');
        const ctx = {
            anchors: new Map(),
            doc,
            keep: true,
            mapAsMap: mapAsMap === true,
            mapKeyWarned: false,
            maxAliasCount: typeof maxAliasCount === 'number' ? maxAliasCount : 100
        };
        const res = toJS(this, '', ctx);
        if (typeof onAnchor === 'function')
            for (const { count, res } of ctx.anchors.values())
                onAnchor(res, count);
        return typeof reviver === 'function'
            ? applyReviver(reviver, { '': res }, '', res)
            : res;
    }
}

class Alias extends NodeBase {
    constructor(source) {
        super(ALIAS);
        this.source = source;
        Object.defineProperty(this, 'tag', {
            set() {
                throw new Error('Alias nodes cannot have tags');
            }
        });
    }
    /**
     * Resolve the value of this alias within `doc`, finding the last
     * instance of the `source` anchor before this node.
     */
    resolve(doc, ctx) {
        if (ctx?.maxAliasCount === 0)
            throw new ReferenceError('Alias resolution is disabled');
        let nodes;
        if (ctx?.aliasResolveCache) {
            nodes = ctx.aliasResolveCache;
        }
        else {
            nodes = [];
            visit(doc, {
                Node: (_key, node) => {
                    if (isAlias(node) || hasAnchor(node))
                        nodes.push(node);
                }
            });
            if (ctx)
                ctx.aliasResolveCache = nodes;
        }
        let found = undefined;
        for (const node of nodes) {
            if (node === this)
                break;
            if (node.anchor === this.source)
                found = node;
        }
        if (found && ctx) {
            const { anchors, doc, maxAliasCount } = ctx;
            let data = anchors.get(found);
            if (!data) {
                // Resolve anchors for Node.prototype.toJS()
                toJS(found, null, ctx);
                data = anchors.get(found);
            }
            /* istanbul ignore if */
            if (data?.res === undefined) {
                const msg = 'This should not happen: Alias anchor was not resolved?';
                throw new ReferenceError(msg);
            }
            if (maxAliasCount >= 0) {
                data.count += 1;
                if (data.aliasCount === 0)
                    data.aliasCount = getAliasCount(doc, found, anchors);
                if (data.count * data.aliasCount > maxAliasCount) {
                    const msg = 'Excessive alias count indicates a resource exhaustion attack';
                    throw new ReferenceError(msg);
                }
            }
        }
        return found;
    }
    toJSON(_arg, ctx) {
        if (!ctx)
            return { source: this.source };
        const source = this.resolve(ctx.doc, ctx);
        if (!source) {
            const msg = `Unresolved alias (the anchor must be set before the alias): ${this.source}`;
            throw new ReferenceError(msg);
        }
        return ctx.anchors.get(source).res;
    }
    toString(ctx, _onComment, _onChompKeep) {
        const src = `*${this.source}`;
        if (ctx) {
            anchorIsValid(this.source);
            if (ctx.options.verifyAliasOrder && !ctx.anchors.has(this.source)) {
                const msg = `Unresolved alias (the anchor must be set before the alias): ${this.source}`;
                throw new Error(msg);
            }
            if (ctx.implicitKey)
                return `${src} `;
        }
        return src;
    }
}
function getAliasCount(doc, node, anchors) {
    if (isAlias(node)) {
        const source = node.resolve(doc);
        const anchor = anchors && source && anchors.get(source);
        return anchor ? anchor.count * anchor.aliasCount : 0;
    }
    else if (isCollection(node)) {
        let count = 0;
        for (const item of node.items) {
            const c = getAliasCount(doc, item, anchors);
            if (c > count)
                count = c;
        }
        return count;
    }
    else if (isPair(node)) {
        const kc = getAliasCount(doc, node.key, anchors);
        const vc = getAliasCount(doc, node.value, anchors);
        return Math.max(kc, vc);
    }
    return 1;
}

const isScalarValue = (value) => !value || (typeof value !== 'function' && typeof value !== 'object');
class Scalar extends NodeBase {
    constructor(value) {
        super(SCALAR$1);
        this.value = value;
    }
    toJSON(arg, ctx) {
        return ctx?.keep ? this.value : toJS(this.value, arg, ctx);
    }
    toString() {
        return String(this.value);
    }
}
Scalar.BLOCK_FOLDED = 'BLOCK_FOLDED';
Scalar.BLOCK_LITERAL = 'BLOCK_LITERAL';
Scalar.PLAIN = 'PLAIN';
Scalar.QUOTE_DOUBLE = 'QUOTE_DOUBLE';
Scalar.QUOTE_SINGLE = 'QUOTE_SINGLE';

const defaultTagPrefix = 'tag:yaml.org,2002:';
function findTagObject(value, tagName, tags) {
    if (tagName) {
        const match = tags.filter(t => t.tag === tagName);
        const tagObj = match.find(t => !t.format) ?? match[0];
        if (!tagObj)
            throw new Error(`Tag ${tagName} not found`);
        return tagObj;
    }
    return tags.find(t => t.identify?.(value) && !t.format);
}
function createNode(value, tagName, ctx) {
    if (isDocument(value))
        value = value.contents;
    if (isNode(value))
        return value;
    if (isPair(value)) {
        const map = ctx.schema[MAP].createNode?.(ctx.schema, null, ctx);
        map.items.push(value);
        return map;
    }
    if (value instanceof String ||
        value instanceof Number ||
        value instanceof Boolean ||
        (typeof BigInt !== 'undefined' && value instanceof BigInt) // not supported everywhere
    ) {
        // https://tc39.es/ecma262/#sec-serializejsonproperty
        value = value.valueOf();
    }
    const { aliasDuplicateObjects, onAnchor, onTagObj, schema, sourceObjects } = ctx;
    // Detect duplicate references to the same object & use Alias nodes for all
    // after first. The `ref` wrapper allows for circular references to resolve.
    let ref = undefined;
    if (aliasDuplicateObjects && value && typeof value === 'object') {
        ref = sourceObjects.get(value);
        if (ref) {
            ref.anchor ?? (ref.anchor = onAnchor(value));
            return new Alias(ref.anchor);
        }
        else {
            ref = { anchor: null, node: null };
            sourceObjects.set(value, ref);
        }
    }
    if (tagName?.startsWith('!!'))
        tagName = defaultTagPrefix + tagName.slice(2);
    let tagObj = findTagObject(value, tagName, schema.tags);
    if (!tagObj) {
        if (value && typeof value.toJSON === 'function') {
            // eslint-disable-next-line @typescript-eslint/no-unsafe-call
            value = value.toJSON();
        }
        if (!value || typeof value !== 'object') {
            const node = new Scalar(value);
            if (ref)
                ref.node = node;
            return node;
        }
        tagObj =
            value instanceof Map
                ? schema[MAP]
                : Symbol.iterator in Object(value)
                    ? schema[SEQ]
                    : schema[MAP];
    }
    if (onTagObj) {
        onTagObj(tagObj);
        delete ctx.onTagObj;
    }
    const node = tagObj?.createNode
        ? tagObj.createNode(ctx.schema, value, ctx)
        : typeof tagObj?.nodeClass?.from === 'function'
            ? tagObj.nodeClass.from(ctx.schema, value, ctx)
            : new Scalar(value);
    if (tagName)
        node.tag = tagName;
    else if (!tagObj.default)
        node.tag = tagObj.tag;
    if (ref)
        ref.node = node;
    return node;
}

function collectionFromPath(schema, path, value) {
    let v = value;
    for (let i = path.length - 1; i >= 0; --i) {
        const k = path[i];
        if (typeof k === 'number' && Number.isInteger(k) && k >= 0) {
            const a = [];
            a[k] = v;
            v = a;
        }
        else {
            v = new Map([[k, v]]);
        }
    }
    return createNode(v, undefined, {
        aliasDuplicateObjects: false,
        keepUndefined: false,
        onAnchor: () => {
            throw new Error('This should not happen, please report a bug.');
        },
        schema,
        sourceObjects: new Map()
    });
}
// Type guard is intentionally a little wrong so as to be more useful,
// as it does not cover untypable empty non-string iterables (e.g. []).
const isEmptyPath = (path) => path == null ||
    (typeof path === 'object' && !!path[Symbol.iterator]().next().done);
class Collection extends NodeBase {
    constructor(type, schema) {
        super(type);
        Object.defineProperty(this, 'schema', {
            value: schema,
            configurable: true,
            enumerable: false,
            writable: true
        });
    }
    /**
     * Create a copy of this collection.
     *
     * @param schema - If defined, overwrites the original's schema
     */
    clone(schema) {
        const copy = Object.create(Object.getPrototypeOf(this), Object.getOwnPropertyDescriptors(this));
        if (schema)
            copy.schema = schema;
        copy.items = copy.items.map(it => isNode(it) || isPair(it) ? it.clone(schema) : it);
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /**
     * Adds a value to the collection. For `!!map` and `!!omap` the value must
     * be a Pair instance or a `{ key, value }` object, which may not have a key
     * that already exists in the map.
     */
    addIn(path, value) {
        if (isEmptyPath(path))
            this.add(value);
        else {
            const [key, ...rest] = path;
            const node = this.get(key, true);
            if (isCollection(node))
                node.addIn(rest, value);
            else if (node === undefined && this.schema)
                this.set(key, collectionFromPath(this.schema, rest, value));
            else
                throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
        }
    }
    /**
     * Removes a value from the collection.
     * @returns `true` if the item was found and removed.
     */
    deleteIn(path) {
        const [key, ...rest] = path;
        if (rest.length === 0)
            return this.delete(key);
        const node = this.get(key, true);
        if (isCollection(node))
            return node.deleteIn(rest);
        else
            throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
    }
    /**
     * Returns item at `key`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    getIn(path, keepScalar) {
        const [key, ...rest] = path;
        const node = this.get(key, true);
        if (rest.length === 0)
            return !keepScalar && isScalar(node) ? node.value : node;
        else
            return isCollection(node) ? node.getIn(rest, keepScalar) : undefined;
    }
    hasAllNullValues(allowScalar) {
        return this.items.every(node => {
            if (!isPair(node))
                return false;
            const n = node.value;
            return (n == null ||
                (allowScalar &&
                    isScalar(n) &&
                    n.value == null &&
                    !n.commentBefore &&
                    !n.comment &&
                    !n.tag));
        });
    }
    /**
     * Checks if the collection includes a value with the key `key`.
     */
    hasIn(path) {
        const [key, ...rest] = path;
        if (rest.length === 0)
            return this.has(key);
        const node = this.get(key, true);
        return isCollection(node) ? node.hasIn(rest) : false;
    }
    /**
     * Sets a value in this collection. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    setIn(path, value) {
        const [key, ...rest] = path;
        if (rest.length === 0) {
            this.set(key, value);
        }
        else {
            const node = this.get(key, true);
            if (isCollection(node))
                node.setIn(rest, value);
            else if (node === undefined && this.schema)
                this.set(key, collectionFromPath(this.schema, rest, value));
            else
                throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
        }
    }
}

/**
 * Stringifies a comment.
 *
 * Empty comment lines are left empty,
 * lines consisting of a single space are replaced by `#`,
 * and all other lines are prefixed with a `#`.
 */
const stringifyComment = (str) => str.replace(/^(?!$)(?: $)?/gm, '#');
function indentComment(comment, indent) {
    if (/^\n+$/.test(comment))
        return comment.substring(1);
    return indent ? comment.replace(/^(?! *$)/gm, indent) : comment;
}
const lineComment = (str, indent, comment) => str.endsWith('\n')
    ? indentComment(comment, indent)
    : comment.includes('\n')
        ? '\n' + indentComment(comment, indent)
        : (str.endsWith(' ') ? '' : ' ') + comment;

const FOLD_FLOW = 'flow';
const FOLD_BLOCK = 'block';
const FOLD_QUOTED = 'quoted';
/**
 * Tries to keep input at up to `lineWidth` characters, splitting only on spaces
 * not followed by newlines or spaces unless `mode` is `'quoted'`. Lines are
 * terminated with `\n` and started with `indent`.
 */
function foldFlowLines(text, indent, mode = 'flow', { indentAtStart, lineWidth = 80, minContentWidth = 20, onFold, onOverflow } = {}) {
    if (!lineWidth || lineWidth < 0)
        return text;
    if (lineWidth < minContentWidth)
        minContentWidth = 0;
    const endStep = Math.max(1 + minContentWidth, 1 + lineWidth - indent.length);
    if (text.length <= endStep)
        return text;
    const folds = [];
    const escapedFolds = {};
    let end = lineWidth - indent.length;
    if (typeof indentAtStart === 'number') {
        if (indentAtStart > lineWidth - Math.max(2, minContentWidth))
            folds.push(0);
        else
            end = lineWidth - indentAtStart;
    }
    let split = undefined;
    let prev = undefined;
    let overflow = false;
    let i = -1;
    let escStart = -1;
    let escEnd = -1;
    if (mode === FOLD_BLOCK) {
        i = consumeMoreIndentedLines(text, i, indent.length);
        if (i !== -1)
            end = i + endStep;
    }
    for (let ch; (ch = text[(i += 1)]);) {
        if (mode === FOLD_QUOTED && ch === '\\') {
            escStart = i;
            switch (text[i + 1]) {
                case 'x':
                    i += 3;
                    break;
                case 'u':
                    i += 5;
                    break;
                case 'U':
                    i += 9;
                    break;
                default:
                    i += 1;
            }
            escEnd = i;
        }
        if (ch === '\n') {
            if (mode === FOLD_BLOCK)
                i = consumeMoreIndentedLines(text, i, indent.length);
            end = i + indent.length + endStep;
            split = undefined;
        }
        else {
            if (ch === ' ' &&
                prev &&
                prev !== ' ' &&
                prev !== '\n' &&
                prev !== '\t') {
                // space surrounded by non-space can be replaced with newline + indent
                const next = text[i + 1];
                if (next && next !== ' ' && next !== '\n' && next !== '\t')
                    split = i;
            }
            if (i >= end) {
                if (split) {
                    folds.push(split);
                    end = split + endStep;
                    split = undefined;
                }
                else if (mode === FOLD_QUOTED) {
                    // white-space collected at end may stretch past lineWidth
                    while (prev === ' ' || prev === '\t') {
                        prev = ch;
                        ch = text[(i += 1)];
                        overflow = true;
                    }
                    // Account for newline escape, but don't break preceding escape
                    const j = i > escEnd + 1 ? i - 2 : escStart - 1;
                    // Bail out if lineWidth & minContentWidth are shorter than an escape string
                    if (escapedFolds[j])
                        return text;
                    folds.push(j);
                    escapedFolds[j] = true;
                    end = j + endStep;
                    split = undefined;
                }
                else {
                    overflow = true;
                }
            }
        }
        prev = ch;
    }
    if (overflow && onOverflow)
        onOverflow();
    if (folds.length === 0)
        return text;
    if (onFold)
        onFold();
    let res = text.slice(0, folds[0]);
    for (let i = 0; i < folds.length; ++i) {
        const fold = folds[i];
        const end = folds[i + 1] || text.length;
        if (fold === 0)
            res = `\n${indent}${text.slice(0, end)}`;
        else {
            if (mode === FOLD_QUOTED && escapedFolds[fold])
                res += `${text[fold]}\\`;
            res += `\n${indent}${text.slice(fold + 1, end)}`;
        }
    }
    return res;
}
/**
 * Presumes `i + 1` is at the start of a line
 * @returns index of last newline in more-indented block
 */
function consumeMoreIndentedLines(text, i, indent) {
    let end = i;
    let start = i + 1;
    let ch = text[start];
    while (ch === ' ' || ch === '\t') {
        if (i < start + indent) {
            ch = text[++i];
        }
        else {
            do {
                ch = text[++i];
            } while (ch && ch !== '\n');
            end = i;
            start = i + 1;
            ch = text[start];
        }
    }
    return end;
}

const getFoldOptions = (ctx, isBlock) => ({
    indentAtStart: isBlock ? ctx.indent.length : ctx.indentAtStart,
    lineWidth: ctx.options.lineWidth,
    minContentWidth: ctx.options.minContentWidth
});
// Also checks for lines starting with %, as parsing the output as YAML 1.1 will
// presume that's starting a new document.
const containsDocumentMarker = (str) => /^(%|---|\.\.\.)/m.test(str);
function lineLengthOverLimit(str, lineWidth, indentLength) {
    if (!lineWidth || lineWidth < 0)
        return false;
    const limit = lineWidth - indentLength;
    const strLen = str.length;
    if (strLen <= limit)
        return false;
    for (let i = 0, start = 0; i < strLen; ++i) {
        if (str[i] === '\n') {
            if (i - start > limit)
                return true;
            start = i + 1;
            if (strLen - start <= limit)
                return false;
        }
    }
    return true;
}
function doubleQuotedString(value, ctx) {
    const json = JSON.stringify(value);
    if (ctx.options.doubleQuotedAsJSON)
        return json;
    const { implicitKey } = ctx;
    const minMultiLineLength = ctx.options.doubleQuotedMinMultiLineLength;
    const indent = ctx.indent || (containsDocumentMarker(value) ? '  ' : '');
    let str = '';
    let start = 0;
    for (let i = 0, ch = json[i]; ch; ch = json[++i]) {
        if (ch === ' ' && json[i + 1] === '\\' && json[i + 2] === 'n') {
            // space before newline needs to be escaped to not be folded
            str += json.slice(start, i) + '\\ ';
            i += 1;
            start = i;
            ch = '\\';
        }
        if (ch === '\\')
            switch (json[i + 1]) {
                case 'u':
                    {
                        str += json.slice(start, i);
                        const code = json.substr(i + 2, 4);
                        switch (code) {
                            case '0000':
                                str += '\\0';
                                break;
                            case '0007':
                                str += '\\a';
                                break;
                            case '000b':
                                str += '\\v';
                                break;
                            case '001b':
                                str += '\\e';
                                break;
                            case '0085':
                                str += '\\N';
                                break;
                            case '00a0':
                                str += '\\_';
                                break;
                            case '2028':
                                str += '\\L';
                                break;
                            case '2029':
                                str += '\\P';
                                break;
                            default:
                                if (code.substr(0, 2) === '00')
                                    str += '\\x' + code.substr(2);
                                else
                                    str += json.substr(i, 6);
                        }
                        i += 5;
                        start = i + 1;
                    }
                    break;
                case 'n':
                    if (implicitKey ||
                        json[i + 2] === '"' ||
                        json.length < minMultiLineLength) {
                        i += 1;
                    }
                    else {
                        // folding will eat first newline
                        str += json.slice(start, i) + '\n\n';
                        while (json[i + 2] === '\\' &&
                            json[i + 3] === 'n' &&
                            json[i + 4] !== '"') {
                            str += '\n';
                            i += 2;
                        }
                        str += indent;
                        // space after newline needs to be escaped to not be folded
                        if (json[i + 2] === ' ')
                            str += '\\';
                        i += 1;
                        start = i + 1;
                    }
                    break;
                default:
                    i += 1;
            }
    }
    str = start ? str + json.slice(start) : json;
    return implicitKey
        ? str
        : foldFlowLines(str, indent, FOLD_QUOTED, getFoldOptions(ctx, false));
}
function singleQuotedString(value, ctx) {
    if (ctx.options.singleQuote === false ||
        (ctx.implicitKey && value.includes('\n')) ||
        /[ \t]\n|\n[ \t]/.test(value) // single quoted string can't have leading or trailing whitespace around newline
    )
        return doubleQuotedString(value, ctx);
    const indent = ctx.indent || (containsDocumentMarker(value) ? '  ' : '');
    const res = "'" + value.replace(/'/g, "''").replace(/\n+/g, `$&\n${indent}`) + "'";
    return ctx.implicitKey
        ? res
        : foldFlowLines(res, indent, FOLD_FLOW, getFoldOptions(ctx, false));
}
function quotedString(value, ctx) {
    const { singleQuote } = ctx.options;
    let qs;
    if (singleQuote === false)
        qs = doubleQuotedString;
    else {
        const hasDouble = value.includes('"');
        const hasSingle = value.includes("'");
        if (hasDouble && !hasSingle)
            qs = singleQuotedString;
        else if (hasSingle && !hasDouble)
            qs = doubleQuotedString;
        else
            qs = singleQuote ? singleQuotedString : doubleQuotedString;
    }
    return qs(value, ctx);
}
// The negative lookbehind avoids a polynomial search,
// but isn't supported yet on Safari: https://caniuse.com/js-regexp-lookbehind
let blockEndNewlines;
try {
    blockEndNewlines = new RegExp('(^|(?<!\n))\n+(?!\n|$)', 'g');
}
catch {
    blockEndNewlines = /\n+(?!\n|$)/g;
}
function blockString({ comment, type, value }, ctx, onComment, onChompKeep) {
    const { blockQuote, commentString, lineWidth } = ctx.options;
    // 1. Block can't end in whitespace unless the last line is non-empty.
    // 2. Strings consisting of only whitespace are best rendered explicitly.
    if (!blockQuote || /\n[\t ]+$/.test(value)) {
        return quotedString(value, ctx);
    }
    const indent = ctx.indent ||
        (ctx.forceBlockIndent || containsDocumentMarker(value) ? '  ' : '');
    const literal = blockQuote === 'literal'
        ? true
        : blockQuote === 'folded' || type === Scalar.BLOCK_FOLDED
            ? false
            : type === Scalar.BLOCK_LITERAL
                ? true
                : !lineLengthOverLimit(value, lineWidth, indent.length);
    if (!value)
        return literal ? '|\n' : '>\n';
    // determine chomping from whitespace at value end
    let chomp;
    let endStart;
    for (endStart = value.length; endStart > 0; --endStart) {
        const ch = value[endStart - 1];
        if (ch !== '\n' && ch !== '\t' && ch !== ' ')
            break;
    }
    let end = value.substring(endStart);
    const endNlPos = end.indexOf('\n');
    if (endNlPos === -1) {
        chomp = '-'; // strip
    }
    else if (value === end || endNlPos !== end.length - 1) {
        chomp = '+'; // keep
        if (onChompKeep)
            onChompKeep();
    }
    else {
        chomp = ''; // clip
    }
    if (end) {
        value = value.slice(0, -end.length);
        if (end[end.length - 1] === '\n')
            end = end.slice(0, -1);
        end = end.replace(blockEndNewlines, `$&${indent}`);
    }
    // determine indent indicator from whitespace at value start
    let startWithSpace = false;
    let startEnd;
    let startNlPos = -1;
    for (startEnd = 0; startEnd < value.length; ++startEnd) {
        const ch = value[startEnd];
        if (ch === ' ')
            startWithSpace = true;
        else if (ch === '\n')
            startNlPos = startEnd;
        else
            break;
    }
    let start = value.substring(0, startNlPos < startEnd ? startNlPos + 1 : startEnd);
    if (start) {
        value = value.substring(start.length);
        start = start.replace(/\n+/g, `$&${indent}`);
    }
    const indentSize = indent ? '2' : '1'; // root is at -1
    // Leading | or > is added later
    let header = (startWithSpace ? indentSize : '') + chomp;
    if (comment) {
        header += ' ' + commentString(comment.replace(/ ?[\r\n]+/g, ' '));
        if (onComment)
            onComment();
    }
    if (!literal) {
        const foldedValue = value
            .replace(/\n+/g, '\n$&')
            .replace(/(?:^|\n)([\t ].*)(?:([\n\t ]*)\n(?![\n\t ]))?/g, '$1$2') // more-indented lines aren't folded
            //                ^ more-ind. ^ empty     ^ capture next empty lines only at end of indent
            .replace(/\n+/g, `$&${indent}`);
        let literalFallback = false;
        const foldOptions = getFoldOptions(ctx, true);
        if (blockQuote !== 'folded' && type !== Scalar.BLOCK_FOLDED) {
            foldOptions.onOverflow = () => {
                literalFallback = true;
            };
        }
        const body = foldFlowLines(`${start}${foldedValue}${end}`, indent, FOLD_BLOCK, foldOptions);
        if (!literalFallback)
            return `>${header}\n${indent}${body}`;
    }
    value = value.replace(/\n+/g, `$&${indent}`);
    return `|${header}\n${indent}${start}${value}${end}`;
}
function plainString(item, ctx, onComment, onChompKeep) {
    const { type, value } = item;
    const { actualString, implicitKey, indent, indentStep, inFlow } = ctx;
    if ((implicitKey && value.includes('\n')) ||
        (inFlow && /[[\]{},]/.test(value))) {
        return quotedString(value, ctx);
    }
    if (/^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/.test(value)) {
        // not allowed:
        // - '-' or '?'
        // - start with an indicator character (except [?:-]) or /[?-] /
        // - '\n ', ': ' or ' \n' anywhere
        // - '#' not preceded by a non-space char
        // - end with ' ' or ':'
        return implicitKey || inFlow || !value.includes('\n')
            ? quotedString(value, ctx)
            : blockString(item, ctx, onComment, onChompKeep);
    }
    if (!implicitKey &&
        !inFlow &&
        type !== Scalar.PLAIN &&
        value.includes('\n')) {
        // Where allowed & type not set explicitly, prefer block style for multiline strings
        return blockString(item, ctx, onComment, onChompKeep);
    }
    if (containsDocumentMarker(value)) {
        if (indent === '') {
            ctx.forceBlockIndent = true;
            return blockString(item, ctx, onComment, onChompKeep);
        }
        else if (implicitKey && indent === indentStep) {
            return quotedString(value, ctx);
        }
    }
    const str = value.replace(/\n+/g, `$&\n${indent}`);
    // Verify that output will be parsed as a string, as e.g. plain numbers and
    // booleans get parsed with those types in v1.2 (e.g. '42', 'true' & '0.9e-3'),
    // and others in v1.1.
    if (actualString) {
        const test = (tag) => tag.default && tag.tag !== 'tag:yaml.org,2002:str' && tag.test?.test(str);
        const { compat, tags } = ctx.doc.schema;
        if (tags.some(test) || compat?.some(test))
            return quotedString(value, ctx);
    }
    return implicitKey
        ? str
        : foldFlowLines(str, indent, FOLD_FLOW, getFoldOptions(ctx, false));
}
function stringifyString(item, ctx, onComment, onChompKeep) {
    const { implicitKey, inFlow } = ctx;
    const ss = typeof item.value === 'string'
        ? item
        : Object.assign({}, item, { value: String(item.value) });
    let { type } = item;
    if (type !== Scalar.QUOTE_DOUBLE) {
        // force double quotes on control characters & unpaired surrogates
        if (/[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u.test(ss.value))
            type = Scalar.QUOTE_DOUBLE;
    }
    const _stringify = (_type) => {
        switch (_type) {
            case Scalar.BLOCK_FOLDED:
            case Scalar.BLOCK_LITERAL:
                return implicitKey || inFlow
                    ? quotedString(ss.value, ctx) // blocks are not valid inside flow containers
                    : blockString(ss, ctx, onComment, onChompKeep);
            case Scalar.QUOTE_DOUBLE:
                return doubleQuotedString(ss.value, ctx);
            case Scalar.QUOTE_SINGLE:
                return singleQuotedString(ss.value, ctx);
            case Scalar.PLAIN:
                return plainString(ss, ctx, onComment, onChompKeep);
            default:
                return null;
        }
    };
    let res = _stringify(type);
    if (res === null) {
        const { defaultKeyType, defaultStringType } = ctx.options;
        const t = (implicitKey && defaultKeyType) || defaultStringType;
        res = _stringify(t);
        if (res === null)
            throw new Error(`Unsupported default string type ${t}`);
    }
    return res;
}

function createStringifyContext(doc, options) {
    const opt = Object.assign({
        blockQuote: true,
        commentString: stringifyComment,
        defaultKeyType: null,
        defaultStringType: 'PLAIN',
        directives: null,
        doubleQuotedAsJSON: false,
        doubleQuotedMinMultiLineLength: 40,
        falseStr: 'false',
        flowCollectionPadding: true,
        indentSeq: true,
        lineWidth: 80,
        minContentWidth: 20,
        nullStr: 'null',
        simpleKeys: false,
        singleQuote: null,
        trailingComma: false,
        trueStr: 'true',
        verifyAliasOrder: true
    }, doc.schema.toStringOptions, options);
    let inFlow;
    switch (opt.collectionStyle) {
        case 'block':
            inFlow = false;
            break;
        case 'flow':
            inFlow = true;
            break;
        default:
            inFlow = null;
    }
    return {
        anchors: new Set(),
        doc,
        flowCollectionPadding: opt.flowCollectionPadding ? ' ' : '',
        indent: '',
        indentStep: typeof opt.indent === 'number' ? ' '.repeat(opt.indent) : '  ',
        inFlow,
        options: opt
    };
}
function getTagObject(tags, item) {
    if (item.tag) {
        const match = tags.filter(t => t.tag === item.tag);
        if (match.length > 0)
            return match.find(t => t.format === item.format) ?? match[0];
    }
    let tagObj = undefined;
    let obj;
    if (isScalar(item)) {
        obj = item.value;
        let match = tags.filter(t => t.identify?.(obj));
        if (match.length > 1) {
            const testMatch = match.filter(t => t.test);
            if (testMatch.length > 0)
                match = testMatch;
        }
        tagObj =
            match.find(t => t.format === item.format) ?? match.find(t => !t.format);
    }
    else {
        obj = item;
        tagObj = tags.find(t => t.nodeClass && obj instanceof t.nodeClass);
    }
    if (!tagObj) {
        const name = obj?.constructor?.name ?? (obj === null ? 'null' : typeof obj);
        throw new Error(`Tag not resolved for ${name} value`);
    }
    return tagObj;
}
// needs to be called before value stringifier to allow for circular anchor refs
function stringifyProps(node, tagObj, { anchors, doc }) {
    if (!doc.directives)
        return '';
    const props = [];
    const anchor = (isScalar(node) || isCollection(node)) && node.anchor;
    if (anchor && anchorIsValid(anchor)) {
        anchors.add(anchor);
        props.push(`&${anchor}`);
    }
    const tag = node.tag ?? (tagObj.default ? null : tagObj.tag);
    if (tag)
        props.push(doc.directives.tagString(tag));
    return props.join(' ');
}
function stringify(item, ctx, onComment, onChompKeep) {
    if (isPair(item))
        return item.toString(ctx, onComment, onChompKeep);
    if (isAlias(item)) {
        if (ctx.doc.directives)
            return item.toString(ctx);
        if (ctx.resolvedAliases?.has(item)) {
            throw new TypeError(`Cannot stringify circular structure without alias nodes`);
        }
        else {
            if (ctx.resolvedAliases)
                ctx.resolvedAliases.add(item);
            else
                ctx.resolvedAliases = new Set([item]);
            item = item.resolve(ctx.doc);
        }
    }
    let tagObj = undefined;
    const node = isNode(item)
        ? item
        : ctx.doc.createNode(item, { onTagObj: o => (tagObj = o) });
    tagObj ?? (tagObj = getTagObject(ctx.doc.schema.tags, node));
    const props = stringifyProps(node, tagObj, ctx);
    if (props.length > 0)
        ctx.indentAtStart = (ctx.indentAtStart ?? 0) + props.length + 1;
    const str = typeof tagObj.stringify === 'function'
        ? tagObj.stringify(node, ctx, onComment, onChompKeep)
        : isScalar(node)
            ? stringifyString(node, ctx, onComment, onChompKeep)
            : node.toString(ctx, onComment, onChompKeep);
    if (!props)
        return str;
    return isScalar(node) || str[0] === '{' || str[0] === '['
        ? `${props} ${str}`
        : `${props}\n${ctx.indent}${str}`;
}

function stringifyPair({ key, value }, ctx, onComment, onChompKeep) {
    const { allNullValues, doc, indent, indentStep, options: { commentString, indentSeq, simpleKeys } } = ctx;
    let keyComment = (isNode(key) && key.comment) || null;
    if (simpleKeys) {
        if (keyComment) {
            throw new Error('With simple keys, key nodes cannot have comments');
        }
        if (isCollection(key) || (!isNode(key) && typeof key === 'object')) {
            const msg = 'With simple keys, collection cannot be used as a key value';
            throw new Error(msg);
        }
    }
    let explicitKey = !simpleKeys &&
        (!key ||
            (keyComment && value == null && !ctx.inFlow) ||
            isCollection(key) ||
            (isScalar(key)
                ? key.type === Scalar.BLOCK_FOLDED || key.type === Scalar.BLOCK_LITERAL
                : typeof key === 'object'));
    ctx = Object.assign({}, ctx, {
        allNullValues: false,
        implicitKey: !explicitKey && (simpleKeys || !allNullValues),
        indent: indent + indentStep
    });
    let keyCommentDone = false;
    let chompKeep = false;
    let str = stringify(key, ctx, () => (keyCommentDone = true), () => (chompKeep = true));
    if (!explicitKey && !ctx.inFlow && str.length > 1024) {
        if (simpleKeys)
            throw new Error('With simple keys, single line scalar must not span more than 1024 characters');
        explicitKey = true;
    }
    if (ctx.inFlow) {
        if (allNullValues || value == null) {
            if (keyCommentDone && onComment)
                onComment();
            return str === '' ? '?' : explicitKey ? `? ${str}` : str;
        }
    }
    else if ((allNullValues && !simpleKeys) || (value == null && explicitKey)) {
        str = `? ${str}`;
        if (keyComment && !keyCommentDone) {
            str += lineComment(str, ctx.indent, commentString(keyComment));
        }
        else if (chompKeep && onChompKeep)
            onChompKeep();
        return str;
    }
    if (keyCommentDone)
        keyComment = null;
    if (explicitKey) {
        if (keyComment)
            str += lineComment(str, ctx.indent, commentString(keyComment));
        str = `? ${str}\n${indent}:`;
    }
    else {
        str = `${str}:`;
        if (keyComment)
            str += lineComment(str, ctx.indent, commentString(keyComment));
    }
    let vsb, vcb, valueComment;
    if (isNode(value)) {
        vsb = !!value.spaceBefore;
        vcb = value.commentBefore;
        valueComment = value.comment;
    }
    else {
        vsb = false;
        vcb = null;
        valueComment = null;
        if (value && typeof value === 'object')
            value = doc.createNode(value);
    }
    ctx.implicitKey = false;
    if (!explicitKey && !keyComment && isScalar(value))
        ctx.indentAtStart = str.length + 1;
    chompKeep = false;
    if (!indentSeq &&
        indentStep.length >= 2 &&
        !ctx.inFlow &&
        !explicitKey &&
        isSeq(value) &&
        !value.flow &&
        !value.tag &&
        !value.anchor) {
        // If indentSeq === false, consider '- ' as part of indentation where possible
        ctx.indent = ctx.indent.substring(2);
    }
    let valueCommentDone = false;
    const valueStr = stringify(value, ctx, () => (valueCommentDone = true), () => (chompKeep = true));
    let ws = ' ';
    if (keyComment || vsb || vcb) {
        ws = vsb ? '\n' : '';
        if (vcb) {
            const cs = commentString(vcb);
            ws += `\n${indentComment(cs, ctx.indent)}`;
        }
        if (valueStr === '' && !ctx.inFlow) {
            if (ws === '\n' && valueComment)
                ws = '\n\n';
        }
        else {
            ws += `\n${ctx.indent}`;
        }
    }
    else if (!explicitKey && isCollection(value)) {
        const vs0 = valueStr[0];
        const nl0 = valueStr.indexOf('\n');
        const hasNewline = nl0 !== -1;
        const flow = ctx.inFlow ?? value.flow ?? value.items.length === 0;
        if (hasNewline || !flow) {
            let hasPropsLine = false;
            if (hasNewline && (vs0 === '&' || vs0 === '!')) {
                let sp0 = valueStr.indexOf(' ');
                if (vs0 === '&' &&
                    sp0 !== -1 &&
                    sp0 < nl0 &&
                    valueStr[sp0 + 1] === '!') {
                    sp0 = valueStr.indexOf(' ', sp0 + 1);
                }
                if (sp0 === -1 || nl0 < sp0)
                    hasPropsLine = true;
            }
            if (!hasPropsLine)
                ws = `\n${ctx.indent}`;
        }
    }
    else if (valueStr === '' || valueStr[0] === '\n') {
        ws = '';
    }
    str += ws + valueStr;
    if (ctx.inFlow) {
        if (valueCommentDone && onComment)
            onComment();
    }
    else if (valueComment && !valueCommentDone) {
        str += lineComment(str, ctx.indent, commentString(valueComment));
    }
    else if (chompKeep && onChompKeep) {
        onChompKeep();
    }
    return str;
}

function warn(logLevel, warning) {
    if (logLevel === 'debug' || logLevel === 'warn') {
        console.warn(warning);
    }
}

// If the value associated with a merge key is a single mapping node, each of
// its key/value pairs is inserted into the current mapping, unless the key
// already exists in it. If the value associated with the merge key is a
// sequence, then this sequence is expected to contain mapping nodes and each
// of these nodes is merged in turn according to its order in the sequence.
// Keys in mapping nodes earlier in the sequence override keys specified in
// later mapping nodes. -- http://yaml.org/type/merge.html
const MERGE_KEY = '<<';
const merge$1 = {
    identify: value => value === MERGE_KEY ||
        (typeof value === 'symbol' && value.description === MERGE_KEY),
    default: 'key',
    tag: 'tag:yaml.org,2002:merge',
    test: /^<<$/,
    resolve: () => Object.assign(new Scalar(Symbol(MERGE_KEY)), {
        addToJSMap: addMergeToJSMap
    }),
    stringify: () => MERGE_KEY
};
const isMergeKey = (ctx, key) => (merge$1.identify(key) ||
    (isScalar(key) &&
        (!key.type || key.type === Scalar.PLAIN) &&
        merge$1.identify(key.value))) &&
    ctx?.doc.schema.tags.some(tag => tag.tag === merge$1.tag && tag.default);
function addMergeToJSMap(ctx, map, value) {
    const source = resolveAliasValue(ctx, value);
    if (isSeq(source))
        for (const it of source.items)
            mergeValue(ctx, map, it);
    else if (Array.isArray(source))
        for (const it of source)
            mergeValue(ctx, map, it);
    else
        mergeValue(ctx, map, source);
}
function mergeValue(ctx, map, value) {
    const source = resolveAliasValue(ctx, value);
    if (!isMap(source))
        throw new Error('Merge sources must be maps or map aliases');
    const srcMap = source.toJSON(null, ctx, Map);
    for (const [key, value] of srcMap) {
        if (map instanceof Map) {
            if (!map.has(key))
                map.set(key, value);
        }
        else if (map instanceof Set) {
            map.add(key);
        }
        else if (!Object.prototype.hasOwnProperty.call(map, key)) {
            Object.defineProperty(map, key, {
                value,
                writable: true,
                enumerable: true,
                configurable: true
            });
        }
    }
    return map;
}
function resolveAliasValue(ctx, value) {
    return ctx && isAlias(value) ? value.resolve(ctx.doc, ctx) : value;
}

function addPairToJSMap(ctx, map, { key, value }) {
    if (isNode(key) && key.addToJSMap)
        key.addToJSMap(ctx, map, value);
    // TODO: Should drop this special case for bare << handling
    else if (isMergeKey(ctx, key))
        addMergeToJSMap(ctx, map, value);
    else {
        const jsKey = toJS(key, '', ctx);
        if (map instanceof Map) {
            map.set(jsKey, toJS(value, jsKey, ctx));
        }
        else if (map instanceof Set) {
            map.add(jsKey);
        }
        else {
            const stringKey = stringifyKey(key, jsKey, ctx);
            const jsValue = toJS(value, stringKey, ctx);
            if (stringKey in map)
                Object.defineProperty(map, stringKey, {
                    value: jsValue,
                    writable: true,
                    enumerable: true,
                    configurable: true
                });
            else
                map[stringKey] = jsValue;
        }
    }
    return map;
}
function stringifyKey(key, jsKey, ctx) {
    if (jsKey === null)
        return '';
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    if (typeof jsKey !== 'object')
        return String(jsKey);
    if (isNode(key) && ctx?.doc) {
        const strCtx = createStringifyContext(ctx.doc, {});
        strCtx.anchors = new Set();
        for (const node of ctx.anchors.keys())
            strCtx.anchors.add(node.anchor);
        strCtx.inFlow = true;
        strCtx.inStringifyKey = true;
        const strKey = key.toString(strCtx);
        if (!ctx.mapKeyWarned) {
            let jsonStr = JSON.stringify(strKey);
            if (jsonStr.length > 40)
                jsonStr = jsonStr.substring(0, 36) + '..."';
            warn(ctx.doc.options.logLevel, `Keys with collection values will be stringified due to JS Object restrictions: ${jsonStr}. Set mapAsMap: true to use object keys.`);
            ctx.mapKeyWarned = true;
        }
        return strKey;
    }
    return JSON.stringify(jsKey);
}

function createPair(key, value, ctx) {
    const k = createNode(key, undefined, ctx);
    const v = createNode(value, undefined, ctx);
    return new Pair(k, v);
}
class Pair {
    constructor(key, value = null) {
        Object.defineProperty(this, NODE_TYPE, { value: PAIR });
        this.key = key;
        this.value = value;
    }
    clone(schema) {
        let { key, value } = this;
        if (isNode(key))
            key = key.clone(schema);
        if (isNode(value))
            value = value.clone(schema);
        return new Pair(key, value);
    }
    toJSON(_, ctx) {
        const pair = ctx?.mapAsMap ? new Map() : {};
        return addPairToJSMap(ctx, pair, this);
    }
    toString(ctx, onComment, onChompKeep) {
        return ctx?.doc
            ? stringifyPair(this, ctx, onComment, onChompKeep)
            : JSON.stringify(this);
    }
}

function stringifyCollection(collection, ctx, options) {
    const flow = ctx.inFlow ?? collection.flow;
    const stringify = flow ? stringifyFlowCollection : stringifyBlockCollection;
    return stringify(collection, ctx, options);
}
function stringifyBlockCollection({ comment, items }, ctx, { blockItemPrefix, flowChars, itemIndent, onChompKeep, onComment }) {
    const { indent, options: { commentString } } = ctx;
    const itemCtx = Object.assign({}, ctx, { indent: itemIndent, type: null });
    let chompKeep = false; // flag for the preceding node's status
    const lines = [];
    for (let i = 0; i < items.length; ++i) {
        const item = items[i];
        let comment = null;
        if (isNode(item)) {
            if (!chompKeep && item.spaceBefore)
                lines.push('');
            addCommentBefore(ctx, lines, item.commentBefore, chompKeep);
            if (item.comment)
                comment = item.comment;
        }
        else if (isPair(item)) {
            const ik = isNode(item.key) ? item.key : null;
            if (ik) {
                if (!chompKeep && ik.spaceBefore)
                    lines.push('');
                addCommentBefore(ctx, lines, ik.commentBefore, chompKeep);
            }
        }
        chompKeep = false;
        let str = stringify(item, itemCtx, () => (comment = null), () => (chompKeep = true));
        if (comment)
            str += lineComment(str, itemIndent, commentString(comment));
        if (chompKeep && comment)
            chompKeep = false;
        lines.push(blockItemPrefix + str);
    }
    let str;
    if (lines.length === 0) {
        str = flowChars.start + flowChars.end;
    }
    else {
        str = lines[0];
        for (let i = 1; i < lines.length; ++i) {
            const line = lines[i];
            str += line ? `\n${indent}${line}` : '\n';
        }
    }
    if (comment) {
        str += '\n' + indentComment(commentString(comment), indent);
        if (onComment)
            onComment();
    }
    else if (chompKeep && onChompKeep)
        onChompKeep();
    return str;
}
function stringifyFlowCollection({ items }, ctx, { flowChars, itemIndent }) {
    const { indent, indentStep, flowCollectionPadding: fcPadding, options: { commentString } } = ctx;
    itemIndent += indentStep;
    const itemCtx = Object.assign({}, ctx, {
        indent: itemIndent,
        inFlow: true,
        type: null
    });
    let reqNewline = false;
    let linesAtValue = 0;
    const lines = [];
    for (let i = 0; i < items.length; ++i) {
        const item = items[i];
        let comment = null;
        if (isNode(item)) {
            if (item.spaceBefore)
                lines.push('');
            addCommentBefore(ctx, lines, item.commentBefore, false);
            if (item.comment)
                comment = item.comment;
        }
        else if (isPair(item)) {
            const ik = isNode(item.key) ? item.key : null;
            if (ik) {
                if (ik.spaceBefore)
                    lines.push('');
                addCommentBefore(ctx, lines, ik.commentBefore, false);
                if (ik.comment)
                    reqNewline = true;
            }
            const iv = isNode(item.value) ? item.value : null;
            if (iv) {
                if (iv.comment)
                    comment = iv.comment;
                if (iv.commentBefore)
                    reqNewline = true;
            }
            else if (item.value == null && ik?.comment) {
                comment = ik.comment;
            }
        }
        if (comment)
            reqNewline = true;
        let str = stringify(item, itemCtx, () => (comment = null));
        reqNewline || (reqNewline = lines.length > linesAtValue || str.includes('\n'));
        if (i < items.length - 1) {
            str += ',';
        }
        else if (ctx.options.trailingComma) {
            if (ctx.options.lineWidth > 0) {
                reqNewline || (reqNewline = lines.reduce((sum, line) => sum + line.length + 2, 2) +
                    (str.length + 2) >
                    ctx.options.lineWidth);
            }
            if (reqNewline) {
                str += ',';
            }
        }
        if (comment)
            str += lineComment(str, itemIndent, commentString(comment));
        lines.push(str);
        linesAtValue = lines.length;
    }
    const { start, end } = flowChars;
    if (lines.length === 0) {
        return start + end;
    }
    else {
        if (!reqNewline) {
            const len = lines.reduce((sum, line) => sum + line.length + 2, 2);
            reqNewline = ctx.options.lineWidth > 0 && len > ctx.options.lineWidth;
        }
        if (reqNewline) {
            let str = start;
            for (const line of lines)
                str += line ? `\n${indentStep}${indent}${line}` : '\n';
            return `${str}\n${indent}${end}`;
        }
        else {
            return `${start}${fcPadding}${lines.join(' ')}${fcPadding}${end}`;
        }
    }
}
function addCommentBefore({ indent, options: { commentString } }, lines, comment, chompKeep) {
    if (comment && chompKeep)
        comment = comment.replace(/^\n+/, '');
    if (comment) {
        const ic = indentComment(commentString(comment), indent);
        lines.push(ic.trimStart()); // Avoid double indent on first line
    }
}

function findPair(items, key) {
    const k = isScalar(key) ? key.value : key;
    for (const it of items) {
        if (isPair(it)) {
            if (it.key === key || it.key === k)
                return it;
            if (isScalar(it.key) && it.key.value === k)
                return it;
        }
    }
    return undefined;
}
class YAMLMap extends Collection {
    static get tagName() {
        return 'tag:yaml.org,2002:map';
    }
    constructor(schema) {
        super(MAP, schema);
        this.items = [];
    }
    /**
     * A generic collection parsing method that can be extended
     * to other node classes that inherit from YAMLMap
     */
    static from(schema, obj, ctx) {
        const { keepUndefined, replacer } = ctx;
        const map = new this(schema);
        const add = (key, value) => {
            if (typeof replacer === 'function')
                value = replacer.call(obj, key, value);
            else if (Array.isArray(replacer) && !replacer.includes(key))
                return;
            if (value !== undefined || keepUndefined)
                map.items.push(createPair(key, value, ctx));
        };
        if (obj instanceof Map) {
            for (const [key, value] of obj)
                add(key, value);
        }
        else if (obj && typeof obj === 'object') {
            for (const key of Object.keys(obj))
                add(key, obj[key]);
        }
        if (typeof schema.sortMapEntries === 'function') {
            map.items.sort(schema.sortMapEntries);
        }
        return map;
    }
    /**
     * Adds a value to the collection.
     *
     * @param overwrite - If not set `true`, using a key that is already in the
     *   collection will throw. Otherwise, overwrites the previous value.
     */
    add(pair, overwrite) {
        let _pair;
        if (isPair(pair))
            _pair = pair;
        else if (!pair || typeof pair !== 'object' || !('key' in pair)) {
            // In TypeScript, this never happens.
            _pair = new Pair(pair, pair?.value);
        }
        else
            _pair = new Pair(pair.key, pair.value);
        const prev = findPair(this.items, _pair.key);
        const sortEntries = this.schema?.sortMapEntries;
        if (prev) {
            if (!overwrite)
                throw new Error(`Key ${_pair.key} already set`);
            // For scalars, keep the old node & its comments and anchors
            if (isScalar(prev.value) && isScalarValue(_pair.value))
                prev.value.value = _pair.value;
            else
                prev.value = _pair.value;
        }
        else if (sortEntries) {
            const i = this.items.findIndex(item => sortEntries(_pair, item) < 0);
            if (i === -1)
                this.items.push(_pair);
            else
                this.items.splice(i, 0, _pair);
        }
        else {
            this.items.push(_pair);
        }
    }
    delete(key) {
        const it = findPair(this.items, key);
        if (!it)
            return false;
        const del = this.items.splice(this.items.indexOf(it), 1);
        return del.length > 0;
    }
    get(key, keepScalar) {
        const it = findPair(this.items, key);
        const node = it?.value;
        return (!keepScalar && isScalar(node) ? node.value : node) ?? undefined;
    }
    has(key) {
        return !!findPair(this.items, key);
    }
    set(key, value) {
        this.add(new Pair(key, value), true);
    }
    /**
     * @param ctx - Conversion context, originally set in Document#toJS()
     * @param {Class} Type - If set, forces the returned collection type
     * @returns Instance of Type, Map, or Object
     */
    toJSON(_, ctx, Type) {
        const map = Type ? new Type() : ctx?.mapAsMap ? new Map() : {};
        if (ctx?.onCreate)
            ctx.onCreate(map);
        for (const item of this.items)
            addPairToJSMap(ctx, map, item);
        return map;
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        for (const item of this.items) {
            if (!isPair(item))
                throw new Error(`Map items must all be pairs; found ${JSON.stringify(item)} instead`);
        }
        if (!ctx.allNullValues && this.hasAllNullValues(false))
            ctx = Object.assign({}, ctx, { allNullValues: true });
        return stringifyCollection(this, ctx, {
            blockItemPrefix: '',
            flowChars: { start: '{', end: '}' },
            itemIndent: ctx.indent || '',
            onChompKeep,
            onComment
        });
    }
}

const map = {
    collection: 'map',
    default: true,
    nodeClass: YAMLMap,
    tag: 'tag:yaml.org,2002:map',
    resolve(map, onError) {
        if (!isMap(map))
            onError('Expected a mapping for this tag');
        return map;
    },
    createNode: (schema, obj, ctx) => YAMLMap.from(schema, obj, ctx)
};

class YAMLSeq extends Collection {
    static get tagName() {
        return 'tag:yaml.org,2002:seq';
    }
    constructor(schema) {
        super(SEQ, schema);
        this.items = [];
    }
    add(value) {
        this.items.push(value);
    }
    /**
     * Removes a value from the collection.
     *
     * `key` must contain a representation of an integer for this to succeed.
     * It may be wrapped in a `Scalar`.
     *
     * @returns `true` if the item was found and removed.
     */
    delete(key) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            return false;
        const del = this.items.splice(idx, 1);
        return del.length > 0;
    }
    get(key, keepScalar) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            return undefined;
        const it = this.items[idx];
        return !keepScalar && isScalar(it) ? it.value : it;
    }
    /**
     * Checks if the collection includes a value with the key `key`.
     *
     * `key` must contain a representation of an integer for this to succeed.
     * It may be wrapped in a `Scalar`.
     */
    has(key) {
        const idx = asItemIndex(key);
        return typeof idx === 'number' && idx < this.items.length;
    }
    /**
     * Sets a value in this collection. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     *
     * If `key` does not contain a representation of an integer, this will throw.
     * It may be wrapped in a `Scalar`.
     */
    set(key, value) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            throw new Error(`Expected a valid index, not ${key}.`);
        const prev = this.items[idx];
        if (isScalar(prev) && isScalarValue(value))
            prev.value = value;
        else
            this.items[idx] = value;
    }
    toJSON(_, ctx) {
        const seq = [];
        if (ctx?.onCreate)
            ctx.onCreate(seq);
        let i = 0;
        for (const item of this.items)
            seq.push(toJS(item, String(i++), ctx));
        return seq;
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        return stringifyCollection(this, ctx, {
            blockItemPrefix: '- ',
            flowChars: { start: '[', end: ']' },
            itemIndent: (ctx.indent || '') + '  ',
            onChompKeep,
            onComment
        });
    }
    static from(schema, obj, ctx) {
        const { replacer } = ctx;
        const seq = new this(schema);
        if (obj && Symbol.iterator in Object(obj)) {
            let i = 0;
            for (let it of obj) {
                if (typeof replacer === 'function') {
                    const key = obj instanceof Set ? it : String(i++);
                    it = replacer.call(obj, key, it);
                }
                seq.items.push(createNode(it, undefined, ctx));
            }
        }
        return seq;
    }
}
function asItemIndex(key) {
    let idx = isScalar(key) ? key.value : key;
    if (idx && typeof idx === 'string')
        idx = Number(idx);
    return typeof idx === 'number' && Number.isInteger(idx) && idx >= 0
        ? idx
        : null;
}

const seq = {
    collection: 'seq',
    default: true,
    nodeClass: YAMLSeq,
    tag: 'tag:yaml.org,2002:seq',
    resolve(seq, onError) {
        if (!isSeq(seq))
            onError('Expected a sequence for this tag');
        return seq;
    },
    createNode: (schema, obj, ctx) => YAMLSeq.from(schema, obj, ctx)
};

const string$1 = {
    identify: value => typeof value === 'string',
    default: true,
    tag: 'tag:yaml.org,2002:str',
    resolve: str => str,
    stringify(item, ctx, onComment, onChompKeep) {
        ctx = Object.assign({ actualString: true }, ctx);
        return stringifyString(item, ctx, onComment, onChompKeep);
    }
};

const nullTag = {
    identify: value => value == null,
    createNode: () => new Scalar(null),
    default: true,
    tag: 'tag:yaml.org,2002:null',
    test: /^(?:~|[Nn]ull|NULL)?$/,
    resolve: () => new Scalar(null),
    stringify: ({ source }, ctx) => typeof source === 'string' && nullTag.test.test(source)
        ? source
        : ctx.options.nullStr
};

const boolTag = {
    identify: value => typeof value === 'boolean',
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
    resolve: str => new Scalar(str[0] === 't' || str[0] === 'T'),
    stringify({ source, value }, ctx) {
        if (source && boolTag.test.test(source)) {
            const sv = source[0] === 't' || source[0] === 'T';
            if (value === sv)
                return source;
        }
        return value ? ctx.options.trueStr : ctx.options.falseStr;
    }
};

function stringifyNumber({ format, minFractionDigits, tag, value }) {
    if (typeof value === 'bigint')
        return String(value);
    const num = typeof value === 'number' ? value : Number(value);
    if (!isFinite(num))
        return isNaN(num) ? '.nan' : num < 0 ? '-.inf' : '.inf';
    let n = Object.is(value, -0) ? '-0' : JSON.stringify(value);
    if (!format &&
        minFractionDigits &&
        (!tag || tag === 'tag:yaml.org,2002:float') &&
        /^-?\d/.test(n) &&
        !n.includes('e')) {
        let i = n.indexOf('.');
        if (i < 0) {
            i = n.length;
            n += '.';
        }
        let d = minFractionDigits - (n.length - i - 1);
        while (d-- > 0)
            n += '0';
    }
    return n;
}

const floatNaN$1 = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
    resolve: str => str.slice(-3).toLowerCase() === 'nan'
        ? NaN
        : str[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY,
    stringify: stringifyNumber
};
const floatExp$1 = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'EXP',
    test: /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
    resolve: str => parseFloat(str),
    stringify(node) {
        const num = Number(node.value);
        return isFinite(num) ? num.toExponential() : stringifyNumber(node);
    }
};
const float$1 = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
    resolve(str) {
        const node = new Scalar(parseFloat(str));
        const dot = str.indexOf('.');
        if (dot !== -1 && str[str.length - 1] === '0')
            node.minFractionDigits = str.length - dot - 1;
        return node;
    },
    stringify: stringifyNumber
};

const intIdentify$2 = (value) => typeof value === 'bigint' || Number.isInteger(value);
const intResolve$1 = (str, offset, radix, { intAsBigInt }) => (intAsBigInt ? BigInt(str) : parseInt(str.substring(offset), radix));
function intStringify$1(node, radix, prefix) {
    const { value } = node;
    if (intIdentify$2(value) && value >= 0)
        return prefix + value.toString(radix);
    return stringifyNumber(node);
}
const intOct$1 = {
    identify: value => intIdentify$2(value) && value >= 0,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^0o[0-7]+$/,
    resolve: (str, _onError, opt) => intResolve$1(str, 2, 8, opt),
    stringify: node => intStringify$1(node, 8, '0o')
};
const int$2 = {
    identify: intIdentify$2,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    test: /^[-+]?[0-9]+$/,
    resolve: (str, _onError, opt) => intResolve$1(str, 0, 10, opt),
    stringify: stringifyNumber
};
const intHex$1 = {
    identify: value => intIdentify$2(value) && value >= 0,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'HEX',
    test: /^0x[0-9a-fA-F]+$/,
    resolve: (str, _onError, opt) => intResolve$1(str, 2, 16, opt),
    stringify: node => intStringify$1(node, 16, '0x')
};

const schema$2 = [
    map,
    seq,
    string$1,
    nullTag,
    boolTag,
    intOct$1,
    int$2,
    intHex$1,
    floatNaN$1,
    floatExp$1,
    float$1
];

function intIdentify$1(value) {
    return typeof value === 'bigint' || Number.isInteger(value);
}
const stringifyJSON = ({ value }) => JSON.stringify(value);
const jsonScalars = [
    {
        identify: value => typeof value === 'string',
        default: true,
        tag: 'tag:yaml.org,2002:str',
        resolve: str => str,
        stringify: stringifyJSON
    },
    {
        identify: value => value == null,
        createNode: () => new Scalar(null),
        default: true,
        tag: 'tag:yaml.org,2002:null',
        test: /^null$/,
        resolve: () => null,
        stringify: stringifyJSON
    },
    {
        identify: value => typeof value === 'boolean',
        default: true,
        tag: 'tag:yaml.org,2002:bool',
        test: /^true$|^false$/,
        resolve: str => str === 'true',
        stringify: stringifyJSON
    },
    {
        identify: intIdentify$1,
        default: true,
        tag: 'tag:yaml.org,2002:int',
        test: /^-?(?:0|[1-9][0-9]*)$/,
        resolve: (str, _onError, { intAsBigInt }) => intAsBigInt ? BigInt(str) : parseInt(str, 10),
        stringify: ({ value }) => intIdentify$1(value) ? value.toString() : JSON.stringify(value)
    },
    {
        identify: value => typeof value === 'number',
        default: true,
        tag: 'tag:yaml.org,2002:float',
        test: /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?$/,
        resolve: str => parseFloat(str),
        stringify: stringifyJSON
    }
];
const jsonError = {
    default: true,
    tag: '',
    test: /^/,
    resolve(str, onError) {
        onError(`Unresolved plain scalar ${JSON.stringify(str)}`);
        return str;
    }
};
const schema$1 = [map, seq].concat(jsonScalars, jsonError);

const binary = {
    identify: value => value instanceof Uint8Array, // Buffer inherits from Uint8Array
    default: false,
    tag: 'tag:yaml.org,2002:binary',
    /**
     * Returns a Buffer in node and an Uint8Array in browsers
     *
     * To use the resulting buffer as an image, you'll want to do something like:
     *
     *   const blob = new Blob([buffer], { type: 'image/jpeg' })
     *   document.querySelector('#photo').src = URL.createObjectURL(blob)
     */
    resolve(src, onError) {
        if (typeof atob === 'function') {
            // On IE 11, atob() can't handle newlines
            const str = atob(src.replace(/[\n\r]/g, ''));
            const buffer = new Uint8Array(str.length);
            for (let i = 0; i < str.length; ++i)
                buffer[i] = str.charCodeAt(i);
            return buffer;
        }
        else {
            onError('This environment does not support reading binary tags; either Buffer or atob is required');
            return src;
        }
    },
    stringify({ comment, type, value }, ctx, onComment, onChompKeep) {
        if (!value)
            return '';
        const buf = value; // checked earlier by binary.identify()
        let str;
        if (typeof btoa === 'function') {
            let s = '';
            for (let i = 0; i < buf.length; ++i)
                s += String.fromCharCode(buf[i]);
            str = btoa(s);
        }
        else {
            throw new Error('This environment does not support writing binary tags; either Buffer or btoa is required');
        }
        type ?? (type = Scalar.BLOCK_LITERAL);
        if (type !== Scalar.QUOTE_DOUBLE) {
            const lineWidth = Math.max(ctx.options.lineWidth - ctx.indent.length, ctx.options.minContentWidth);
            const n = Math.ceil(str.length / lineWidth);
            const lines = new Array(n);
            for (let i = 0, o = 0; i < n; ++i, o += lineWidth) {
                lines[i] = str.substr(o, lineWidth);
            }
            str = lines.join(type === Scalar.BLOCK_LITERAL ? '\n' : ' ');
        }
        return stringifyString({ comment, type, value: str }, ctx, onComment, onChompKeep);
    }
};

function resolvePairs(seq, onError) {
    if (isSeq(seq)) {
        for (let i = 0; i < seq.items.length; ++i) {
            let item = seq.items[i];
            if (isPair(item))
                continue;
            else if (isMap(item)) {
                if (item.items.length > 1)
                    onError('Each pair must have its own sequence indicator');
                const pair = item.items[0] || new Pair(new Scalar(null));
                if (item.commentBefore)
                    pair.key.commentBefore = pair.key.commentBefore
                        ? `${item.commentBefore}\n${pair.key.commentBefore}`
                        : item.commentBefore;
                if (item.comment) {
                    const cn = pair.value ?? pair.key;
                    cn.comment = cn.comment
                        ? `${item.comment}\n${cn.comment}`
                        : item.comment;
                }
                item = pair;
            }
            seq.items[i] = isPair(item) ? item : new Pair(item);
        }
    }
    else
        onError('Expected a sequence for this tag');
    return seq;
}
function createPairs(schema, iterable, ctx) {
    const { replacer } = ctx;
    const pairs = new YAMLSeq(schema);
    pairs.tag = 'tag:yaml.org,2002:pairs';
    let i = 0;
    if (iterable && Symbol.iterator in Object(iterable))
        for (let it of iterable) {
            if (typeof replacer === 'function')
                it = replacer.call(iterable, String(i++), it);
            let key, value;
            if (Array.isArray(it)) {
                if (it.length === 2) {
                    key = it[0];
                    value = it[1];
                }
                else
                    throw new TypeError(`Expected [key, value] tuple: ${it}`);
            }
            else if (it && it instanceof Object) {
                const keys = Object.keys(it);
                if (keys.length === 1) {
                    key = keys[0];
                    value = it[key];
                }
                else {
                    throw new TypeError(`Expected tuple with one key, not ${keys.length} keys`);
                }
            }
            else {
                key = it;
            }
            pairs.items.push(createPair(key, value, ctx));
        }
    return pairs;
}
const pairs = {
    collection: 'seq',
    default: false,
    tag: 'tag:yaml.org,2002:pairs',
    resolve: resolvePairs,
    createNode: createPairs
};

class YAMLOMap extends YAMLSeq {
    constructor() {
        super();
        this.add = YAMLMap.prototype.add.bind(this);
        this.delete = YAMLMap.prototype.delete.bind(this);
        this.get = YAMLMap.prototype.get.bind(this);
        this.has = YAMLMap.prototype.has.bind(this);
        this.set = YAMLMap.prototype.set.bind(this);
        this.tag = YAMLOMap.tag;
    }
    /**
     * If `ctx` is given, the return type is actually `Map<unknown, unknown>`,
     * but TypeScript won't allow widening the signature of a child method.
     */
    toJSON(_, ctx) {
        if (!ctx)
            return super.toJSON(_);
        const map = new Map();
        if (ctx?.onCreate)
            ctx.onCreate(map);
        for (const pair of this.items) {
            let key, value;
            if (isPair(pair)) {
                key = toJS(pair.key, '', ctx);
                value = toJS(pair.value, key, ctx);
            }
            else {
                key = toJS(pair, '', ctx);
            }
            if (map.has(key))
                throw new Error('Ordered maps must not include duplicate keys');
            map.set(key, value);
        }
        return map;
    }
    static from(schema, iterable, ctx) {
        const pairs = createPairs(schema, iterable, ctx);
        const omap = new this();
        omap.items = pairs.items;
        return omap;
    }
}
YAMLOMap.tag = 'tag:yaml.org,2002:omap';
const omap = {
    collection: 'seq',
    identify: value => value instanceof Map,
    nodeClass: YAMLOMap,
    default: false,
    tag: 'tag:yaml.org,2002:omap',
    resolve(seq, onError) {
        const pairs = resolvePairs(seq, onError);
        const seenKeys = [];
        for (const { key } of pairs.items) {
            if (isScalar(key)) {
                if (seenKeys.includes(key.value)) {
                    onError(`Ordered maps must not include duplicate keys: ${key.value}`);
                }
                else {
                    seenKeys.push(key.value);
                }
            }
        }
        return Object.assign(new YAMLOMap(), pairs);
    },
    createNode: (schema, iterable, ctx) => YAMLOMap.from(schema, iterable, ctx)
};

function boolStringify({ value, source }, ctx) {
    const boolObj = value ? trueTag : falseTag;
    if (source && boolObj.test.test(source))
        return source;
    return value ? ctx.options.trueStr : ctx.options.falseStr;
}
const trueTag = {
    identify: value => value === true,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/,
    resolve: () => new Scalar(true),
    stringify: boolStringify
};
const falseTag = {
    identify: value => value === false,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
    resolve: () => new Scalar(false),
    stringify: boolStringify
};

const floatNaN = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
    resolve: (str) => str.slice(-3).toLowerCase() === 'nan'
        ? NaN
        : str[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY,
    stringify: stringifyNumber
};
const floatExp = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'EXP',
    test: /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
    resolve: (str) => parseFloat(str.replace(/_/g, '')),
    stringify(node) {
        const num = Number(node.value);
        return isFinite(num) ? num.toExponential() : stringifyNumber(node);
    }
};
const float = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/,
    resolve(str) {
        const node = new Scalar(parseFloat(str.replace(/_/g, '')));
        const dot = str.indexOf('.');
        if (dot !== -1) {
            const f = str.substring(dot + 1).replace(/_/g, '');
            if (f[f.length - 1] === '0')
                node.minFractionDigits = f.length;
        }
        return node;
    },
    stringify: stringifyNumber
};

const intIdentify = (value) => typeof value === 'bigint' || Number.isInteger(value);
function intResolve(str, offset, radix, { intAsBigInt }) {
    const sign = str[0];
    if (sign === '-' || sign === '+')
        offset += 1;
    str = str.substring(offset).replace(/_/g, '');
    if (intAsBigInt) {
        switch (radix) {
            case 2:
                str = `0b${str}`;
                break;
            case 8:
                str = `0o${str}`;
                break;
            case 16:
                str = `0x${str}`;
                break;
        }
        const n = BigInt(str);
        return sign === '-' ? BigInt(-1) * n : n;
    }
    const n = parseInt(str, radix);
    return sign === '-' ? -1 * n : n;
}
function intStringify(node, radix, prefix) {
    const { value } = node;
    if (intIdentify(value)) {
        const str = value.toString(radix);
        return value < 0 ? '-' + prefix + str.substr(1) : prefix + str;
    }
    return stringifyNumber(node);
}
const intBin = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'BIN',
    test: /^[-+]?0b[0-1_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 2, opt),
    stringify: node => intStringify(node, 2, '0b')
};
const intOct = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^[-+]?0[0-7_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 1, 8, opt),
    stringify: node => intStringify(node, 8, '0')
};
const int$1 = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    test: /^[-+]?[0-9][0-9_]*$/,
    resolve: (str, _onError, opt) => intResolve(str, 0, 10, opt),
    stringify: stringifyNumber
};
const intHex = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'HEX',
    test: /^[-+]?0x[0-9a-fA-F_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 16, opt),
    stringify: node => intStringify(node, 16, '0x')
};

class YAMLSet extends YAMLMap {
    constructor(schema) {
        super(schema);
        this.tag = YAMLSet.tag;
    }
    add(key) {
        let pair;
        if (isPair(key))
            pair = key;
        else if (key &&
            typeof key === 'object' &&
            'key' in key &&
            'value' in key &&
            key.value === null)
            pair = new Pair(key.key, null);
        else
            pair = new Pair(key, null);
        const prev = findPair(this.items, pair.key);
        if (!prev)
            this.items.push(pair);
    }
    /**
     * If `keepPair` is `true`, returns the Pair matching `key`.
     * Otherwise, returns the value of that Pair's key.
     */
    get(key, keepPair) {
        const pair = findPair(this.items, key);
        return !keepPair && isPair(pair)
            ? isScalar(pair.key)
                ? pair.key.value
                : pair.key
            : pair;
    }
    set(key, value) {
        if (typeof value !== 'boolean')
            throw new Error(`Expected boolean value for set(key, value) in a YAML set, not ${typeof value}`);
        const prev = findPair(this.items, key);
        if (prev && !value) {
            this.items.splice(this.items.indexOf(prev), 1);
        }
        else if (!prev && value) {
            this.items.push(new Pair(key));
        }
    }
    toJSON(_, ctx) {
        return super.toJSON(_, ctx, Set);
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        if (this.hasAllNullValues(true))
            return super.toString(Object.assign({}, ctx, { allNullValues: true }), onComment, onChompKeep);
        else
            throw new Error('Set items must all have null values');
    }
    static from(schema, iterable, ctx) {
        const { replacer } = ctx;
        const set = new this(schema);
        if (iterable && Symbol.iterator in Object(iterable))
            for (let value of iterable) {
                if (typeof replacer === 'function')
                    value = replacer.call(iterable, value, value);
                set.items.push(createPair(value, null, ctx));
            }
        return set;
    }
}
YAMLSet.tag = 'tag:yaml.org,2002:set';
const set = {
    collection: 'map',
    identify: value => value instanceof Set,
    nodeClass: YAMLSet,
    default: false,
    tag: 'tag:yaml.org,2002:set',
    createNode: (schema, iterable, ctx) => YAMLSet.from(schema, iterable, ctx),
    resolve(map, onError) {
        if (isMap(map)) {
            if (map.hasAllNullValues(true))
                return Object.assign(new YAMLSet(), map);
            else
                onError('Set items must all have null values');
        }
        else
            onError('Expected a mapping for this tag');
        return map;
    }
};

/** Internal types handle bigint as number, because TS can't figure it out. */
function parseSexagesimal(str, asBigInt) {
    const sign = str[0];
    const parts = sign === '-' || sign === '+' ? str.substring(1) : str;
    const num = (n) => asBigInt ? BigInt(n) : Number(n);
    const res = parts
        .replace(/_/g, '')
        .split(':')
        .reduce((res, p) => res * num(60) + num(p), num(0));
    return (sign === '-' ? num(-1) * res : res);
}
/**
 * hhhh:mm:ss.sss
 *
 * Internal types handle bigint as number, because TS can't figure it out.
 */
function stringifySexagesimal(node) {
    let { value } = node;
    let num = (n) => n;
    if (typeof value === 'bigint')
        num = n => BigInt(n);
    else if (isNaN(value) || !isFinite(value))
        return stringifyNumber(node);
    let sign = '';
    if (value < 0) {
        sign = '-';
        value *= num(-1);
    }
    const _60 = num(60);
    const parts = [value % _60]; // seconds, including ms
    if (value < 60) {
        parts.unshift(0); // at least one : is required
    }
    else {
        value = (value - parts[0]) / _60;
        parts.unshift(value % _60); // minutes
        if (value >= 60) {
            value = (value - parts[0]) / _60;
            parts.unshift(value); // hours
        }
    }
    return (sign +
        parts
            .map(n => String(n).padStart(2, '0'))
            .join(':')
            .replace(/000000\d*$/, '') // % 60 may introduce error
    );
}
const intTime = {
    identify: value => typeof value === 'bigint' || Number.isInteger(value),
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'TIME',
    test: /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+$/,
    resolve: (str, _onError, { intAsBigInt }) => parseSexagesimal(str, intAsBigInt),
    stringify: stringifySexagesimal
};
const floatTime = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'TIME',
    test: /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/,
    resolve: str => parseSexagesimal(str, false),
    stringify: stringifySexagesimal
};
const timestamp = {
    identify: value => value instanceof Date,
    default: true,
    tag: 'tag:yaml.org,2002:timestamp',
    // If the time zone is omitted, the timestamp is assumed to be specified in UTC. The time part
    // may be omitted altogether, resulting in a date format. In such a case, the time part is
    // assumed to be 00:00:00Z (start of day, UTC).
    test: RegExp('^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})' + // YYYY-Mm-Dd
        '(?:' + // time is optional
        '(?:t|T|[ \\t]+)' + // t | T | whitespace
        '([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}(\\.[0-9]+)?)' + // Hh:Mm:Ss(.ss)?
        '(?:[ \\t]*(Z|[-+][012]?[0-9](?::[0-9]{2})?))?' + // Z | +5 | -03:30
        ')?$'),
    resolve(str) {
        const match = str.match(timestamp.test);
        if (!match)
            throw new Error('!!timestamp expects a date, starting with yyyy-mm-dd');
        const [, year, month, day, hour, minute, second] = match.map(Number);
        const millisec = match[7] ? Number((match[7] + '00').substr(1, 3)) : 0;
        let date = Date.UTC(year, month - 1, day, hour || 0, minute || 0, second || 0, millisec);
        const tz = match[8];
        if (tz && tz !== 'Z') {
            let d = parseSexagesimal(tz, false);
            if (Math.abs(d) < 30)
                d *= 60;
            date -= 60000 * d;
        }
        return new Date(date);
    },
    stringify: ({ value }) => value?.toISOString().replace(/(T00:00:00)?\.000Z$/, '') ?? ''
};

const schema = [
    map,
    seq,
    string$1,
    nullTag,
    trueTag,
    falseTag,
    intBin,
    intOct,
    int$1,
    intHex,
    floatNaN,
    floatExp,
    float,
    binary,
    merge$1,
    omap,
    pairs,
    set,
    intTime,
    floatTime,
    timestamp
];

const schemas = new Map([
    ['core', schema$2],
    ['failsafe', [map, seq, string$1]],
    ['json', schema$1],
    ['yaml11', schema],
    ['yaml-1.1', schema]
]);
const tagsByName = {
    binary,
    bool: boolTag,
    float: float$1,
    floatExp: floatExp$1,
    floatNaN: floatNaN$1,
    floatTime,
    int: int$2,
    intHex: intHex$1,
    intOct: intOct$1,
    intTime,
    map,
    merge: merge$1,
    null: nullTag,
    omap,
    pairs,
    seq,
    set,
    timestamp
};
const coreKnownTags = {
    'tag:yaml.org,2002:binary': binary,
    'tag:yaml.org,2002:merge': merge$1,
    'tag:yaml.org,2002:omap': omap,
    'tag:yaml.org,2002:pairs': pairs,
    'tag:yaml.org,2002:set': set,
    'tag:yaml.org,2002:timestamp': timestamp
};
function getTags(customTags, schemaName, addMergeTag) {
    const schemaTags = schemas.get(schemaName);
    if (schemaTags && !customTags) {
        return addMergeTag && !schemaTags.includes(merge$1)
            ? schemaTags.concat(merge$1)
            : schemaTags.slice();
    }
    let tags = schemaTags;
    if (!tags) {
        if (Array.isArray(customTags))
            tags = [];
        else {
            const keys = Array.from(schemas.keys())
                .filter(key => key !== 'yaml11')
                .map(key => JSON.stringify(key))
                .join(', ');
            throw new Error(`Unknown schema "${schemaName}"; use one of ${keys} or define customTags array`);
        }
    }
    if (Array.isArray(customTags)) {
        for (const tag of customTags)
            tags = tags.concat(tag);
    }
    else if (typeof customTags === 'function') {
        tags = customTags(tags.slice());
    }
    if (addMergeTag)
        tags = tags.concat(merge$1);
    return tags.reduce((tags, tag) => {
        const tagObj = typeof tag === 'string' ? tagsByName[tag] : tag;
        if (!tagObj) {
            const tagName = JSON.stringify(tag);
            const keys = Object.keys(tagsByName)
                .map(key => JSON.stringify(key))
                .join(', ');
            throw new Error(`Unknown custom tag ${tagName}; use one of ${keys}`);
        }
        if (!tags.includes(tagObj))
            tags.push(tagObj);
        return tags;
    }, []);
}

const sortMapEntriesByKey = (a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
class Schema {
    constructor({ compat, customTags, merge, resolveKnownTags, schema, sortMapEntries, toStringDefaults }) {
        this.compat = Array.isArray(compat)
            ? getTags(compat, 'compat')
            : compat
                ? getTags(null, compat)
                : null;
        this.name = (typeof schema === 'string' && schema) || 'core';
        this.knownTags = resolveKnownTags ? coreKnownTags : {};
        this.tags = getTags(customTags, this.name, merge);
        this.toStringOptions = toStringDefaults ?? null;
        Object.defineProperty(this, MAP, { value: map });
        Object.defineProperty(this, SCALAR$1, { value: string$1 });
        Object.defineProperty(this, SEQ, { value: seq });
        // Used by createMap()
        this.sortMapEntries =
            typeof sortMapEntries === 'function'
                ? sortMapEntries
                : sortMapEntries === true
                    ? sortMapEntriesByKey
                    : null;
    }
    clone() {
        const copy = Object.create(Schema.prototype, Object.getOwnPropertyDescriptors(this));
        copy.tags = this.tags.slice();
        return copy;
    }
}

function stringifyDocument(doc, options) {
    const lines = [];
    let hasDirectives = options.directives === true;
    if (options.directives !== false && doc.directives) {
        const dir = doc.directives.toString(doc);
        if (dir) {
            lines.push(dir);
            hasDirectives = true;
        }
        else if (doc.directives.docStart)
            hasDirectives = true;
    }
    if (hasDirectives)
        lines.push('---');
    const ctx = createStringifyContext(doc, options);
    const { commentString } = ctx.options;
    if (doc.commentBefore) {
        if (lines.length !== 1)
            lines.unshift('');
        const cs = commentString(doc.commentBefore);
        lines.unshift(indentComment(cs, ''));
    }
    let chompKeep = false;
    let contentComment = null;
    if (doc.contents) {
        if (isNode(doc.contents)) {
            if (doc.contents.spaceBefore && hasDirectives)
                lines.push('');
            if (doc.contents.commentBefore) {
                const cs = commentString(doc.contents.commentBefore);
                lines.push(indentComment(cs, ''));
            }
            // top-level block scalars need to be indented if followed by a comment
            ctx.forceBlockIndent = !!doc.comment;
            contentComment = doc.contents.comment;
        }
        const onChompKeep = contentComment ? undefined : () => (chompKeep = true);
        let body = stringify(doc.contents, ctx, () => (contentComment = null), onChompKeep);
        if (contentComment)
            body += lineComment(body, '', commentString(contentComment));
        if ((body[0] === '|' || body[0] === '>') &&
            lines[lines.length - 1] === '---') {
            // Top-level block scalars with a preceding doc marker ought to use the
            // same line for their header.
            lines[lines.length - 1] = `--- ${body}`;
        }
        else
            lines.push(body);
    }
    else {
        lines.push(stringify(doc.contents, ctx));
    }
    if (doc.directives?.docEnd) {
        if (doc.comment) {
            const cs = commentString(doc.comment);
            if (cs.includes('\n')) {
                lines.push('...');
                lines.push(indentComment(cs, ''));
            }
            else {
                lines.push(`... ${cs}`);
            }
        }
        else {
            lines.push('...');
        }
    }
    else {
        let dc = doc.comment;
        if (dc && chompKeep)
            dc = dc.replace(/^\n+/, '');
        if (dc) {
            if ((!chompKeep || contentComment) && lines[lines.length - 1] !== '')
                lines.push('');
            lines.push(indentComment(commentString(dc), ''));
        }
    }
    return lines.join('\n') + '\n';
}

class Document {
    constructor(value, replacer, options) {
        /** A comment before this Document */
        this.commentBefore = null;
        /** A comment immediately after this Document */
        this.comment = null;
        /** Errors encountered during parsing. */
        this.errors = [];
        /** Warnings encountered during parsing. */
        this.warnings = [];
        Object.defineProperty(this, NODE_TYPE, { value: DOC });
        let _replacer = null;
        if (typeof replacer === 'function' || Array.isArray(replacer)) {
            _replacer = replacer;
        }
        else if (options === undefined && replacer) {
            options = replacer;
            replacer = undefined;
        }
        const opt = Object.assign({
            intAsBigInt: false,
            keepSourceTokens: false,
            logLevel: 'warn',
            prettyErrors: true,
            strict: true,
            stringKeys: false,
            uniqueKeys: true,
            version: '1.2'
        }, options);
        this.options = opt;
        let { version } = opt;
        if (options?._directives) {
            this.directives = options._directives.atDocument();
            if (this.directives.yaml.explicit)
                version = this.directives.yaml.version;
        }
        else
            this.directives = new Directives({ version });
        this.setSchema(version, options);
        // @ts-expect-error We can't really know that this matches Contents.
        this.contents =
            value === undefined ? null : this.createNode(value, _replacer, options);
    }
    /**
     * Create a deep copy of this Document and its contents.
     *
     * Custom Node values that inherit from `Object` still refer to their original instances.
     */
    clone() {
        const copy = Object.create(Document.prototype, {
            [NODE_TYPE]: { value: DOC }
        });
        copy.commentBefore = this.commentBefore;
        copy.comment = this.comment;
        copy.errors = this.errors.slice();
        copy.warnings = this.warnings.slice();
        copy.options = Object.assign({}, this.options);
        if (this.directives)
            copy.directives = this.directives.clone();
        copy.schema = this.schema.clone();
        // @ts-expect-error We can't really know that this matches Contents.
        copy.contents = isNode(this.contents)
            ? this.contents.clone(copy.schema)
            : this.contents;
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /** Adds a value to the document. */
    add(value) {
        if (assertCollection(this.contents))
            this.contents.add(value);
    }
    /** Adds a value to the document. */
    addIn(path, value) {
        if (assertCollection(this.contents))
            this.contents.addIn(path, value);
    }
    /**
     * Create a new `Alias` node, ensuring that the target `node` has the required anchor.
     *
     * If `node` already has an anchor, `name` is ignored.
     * Otherwise, the `node.anchor` value will be set to `name`,
     * or if an anchor with that name is already present in the document,
     * `name` will be used as a prefix for a new unique anchor.
     * If `name` is undefined, the generated anchor will use 'a' as a prefix.
     */
    createAlias(node, name) {
        if (!node.anchor) {
            const prev = anchorNames(this);
            node.anchor =
                // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
                !name || prev.has(name) ? findNewAnchor(name || 'a', prev) : name;
        }
        return new Alias(node.anchor);
    }
    createNode(value, replacer, options) {
        let _replacer = undefined;
        if (typeof replacer === 'function') {
            value = replacer.call({ '': value }, '', value);
            _replacer = replacer;
        }
        else if (Array.isArray(replacer)) {
            const keyToStr = (v) => typeof v === 'number' || v instanceof String || v instanceof Number;
            const asStr = replacer.filter(keyToStr).map(String);
            if (asStr.length > 0)
                replacer = replacer.concat(asStr);
            _replacer = replacer;
        }
        else if (options === undefined && replacer) {
            options = replacer;
            replacer = undefined;
        }
        const { aliasDuplicateObjects, anchorPrefix, flow, keepUndefined, onTagObj, tag } = options ?? {};
        const { onAnchor, setAnchors, sourceObjects } = createNodeAnchors(this, 
        // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
        anchorPrefix || 'a');
        const ctx = {
            aliasDuplicateObjects: aliasDuplicateObjects ?? true,
            keepUndefined: keepUndefined ?? false,
            onAnchor,
            onTagObj,
            replacer: _replacer,
            schema: this.schema,
            sourceObjects
        };
        const node = createNode(value, tag, ctx);
        if (flow && isCollection(node))
            node.flow = true;
        setAnchors();
        return node;
    }
    /**
     * Convert a key and a value into a `Pair` using the current schema,
     * recursively wrapping all values as `Scalar` or `Collection` nodes.
     */
    createPair(key, value, options = {}) {
        const k = this.createNode(key, null, options);
        const v = this.createNode(value, null, options);
        return new Pair(k, v);
    }
    /**
     * Removes a value from the document.
     * @returns `true` if the item was found and removed.
     */
    delete(key) {
        return assertCollection(this.contents) ? this.contents.delete(key) : false;
    }
    /**
     * Removes a value from the document.
     * @returns `true` if the item was found and removed.
     */
    deleteIn(path) {
        if (isEmptyPath(path)) {
            if (this.contents == null)
                return false;
            // @ts-expect-error Presumed impossible if Strict extends false
            this.contents = null;
            return true;
        }
        return assertCollection(this.contents)
            ? this.contents.deleteIn(path)
            : false;
    }
    /**
     * Returns item at `key`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    get(key, keepScalar) {
        return isCollection(this.contents)
            ? this.contents.get(key, keepScalar)
            : undefined;
    }
    /**
     * Returns item at `path`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    getIn(path, keepScalar) {
        if (isEmptyPath(path))
            return !keepScalar && isScalar(this.contents)
                ? this.contents.value
                : this.contents;
        return isCollection(this.contents)
            ? this.contents.getIn(path, keepScalar)
            : undefined;
    }
    /**
     * Checks if the document includes a value with the key `key`.
     */
    has(key) {
        return isCollection(this.contents) ? this.contents.has(key) : false;
    }
    /**
     * Checks if the document includes a value at `path`.
     */
    hasIn(path) {
        if (isEmptyPath(path))
            return this.contents !== undefined;
        return isCollection(this.contents) ? this.contents.hasIn(path) : false;
    }
    /**
     * Sets a value in this document. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    set(key, value) {
        if (this.contents == null) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = collectionFromPath(this.schema, [key], value);
        }
        else if (assertCollection(this.contents)) {
            this.contents.set(key, value);
        }
    }
    /**
     * Sets a value in this document. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    setIn(path, value) {
        if (isEmptyPath(path)) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = value;
        }
        else if (this.contents == null) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = collectionFromPath(this.schema, Array.from(path), value);
        }
        else if (assertCollection(this.contents)) {
            this.contents.setIn(path, value);
        }
    }
    /**
     * Change the YAML version and schema used by the document.
     * A `null` version disables support for directives, explicit tags, anchors, and aliases.
     * It also requires the `schema` option to be given as a `Schema` instance value.
     *
     * Overrides all previously set schema options.
     */
    setSchema(version, options = {}) {
        if (typeof version === 'number')
            version = String(version);
        let opt;
        switch (version) {
            case '1.1':
                if (this.directives)
                    this.directives.yaml.version = '1.1';
                else
                    this.directives = new Directives({ version: '1.1' });
                opt = { resolveKnownTags: false, schema: 'yaml-1.1' };
                break;
            case '1.2':
            case 'next':
                if (this.directives)
                    this.directives.yaml.version = version;
                else
                    this.directives = new Directives({ version });
                opt = { resolveKnownTags: true, schema: 'core' };
                break;
            case null:
                if (this.directives)
                    delete this.directives;
                opt = null;
                break;
            default: {
                const sv = JSON.stringify(version);
                throw new Error(`Expected '1.1', '1.2' or null as first argument, but found: ${sv}`);
            }
        }
        // Not using `instanceof Schema` to allow for duck typing
        if (options.schema instanceof Object)
            this.schema = options.schema;
        else if (opt)
            this.schema = new Schema(Object.assign(opt, options));
        else
            throw new Error(`With a null YAML version, the { schema: Schema } option is required`);
    }
    // json & jsonArg are only used from toJSON()
    toJS({ json, jsonArg, mapAsMap, maxAliasCount, onAnchor, reviver } = {}) {
        const ctx = {
            anchors: new Map(),
            doc: this,
            keep: !json,
            mapAsMap: mapAsMap === true,
            mapKeyWarned: false,
            maxAliasCount: typeof maxAliasCount === 'number' ? maxAliasCount : 100
        };
        const res = toJS(this.contents, jsonArg ?? '', ctx);
        if (typeof onAnchor === 'function')
            for (const { count, res } of ctx.anchors.values())
                onAnchor(res, count);
        return typeof reviver === 'function'
            ? applyReviver(reviver, { '': res }, '', res)
            : res;
    }
    /**
     * A JSON representation of the document `contents`.
     *
     * @param jsonArg Used by `JSON.stringify` to indicate the array index or
     *   property name.
     */
    toJSON(jsonArg, onAnchor) {
        return this.toJS({ json: true, jsonArg, mapAsMap: false, onAnchor });
    }
    /** A YAML representation of the document. */
    toString(options = {}) {
        if (this.errors.length > 0)
            throw new Error('Document with errors cannot be stringified');
        if ('indent' in options &&
            (!Number.isInteger(options.indent) || Number(options.indent) <= 0)) {
            const s = JSON.stringify(options.indent);
            throw new Error(`"indent" option must be a positive integer, not ${s}`);
        }
        return stringifyDocument(this, options);
    }
}
function assertCollection(contents) {
    if (isCollection(contents))
        return true;
    throw new Error('Expected a YAML collection as document contents');
}

class YAMLError extends Error {
    constructor(name, pos, code, message) {
        super();
        this.name = name;
        this.code = code;
        this.message = message;
        this.pos = pos;
    }
}
class YAMLParseError extends YAMLError {
    constructor(pos, code, message) {
        super('YAMLParseError', pos, code, message);
    }
}
class YAMLWarning extends YAMLError {
    constructor(pos, code, message) {
        super('YAMLWarning', pos, code, message);
    }
}
const prettifyError = (src, lc) => (error) => {
    if (error.pos[0] === -1)
        return;
    error.linePos = error.pos.map(pos => lc.linePos(pos));
    const { line, col } = error.linePos[0];
    error.message += ` at line ${line}, column ${col}`;
    let ci = col - 1;
    let lineStr = src
        .substring(lc.lineStarts[line - 1], lc.lineStarts[line])
        .replace(/[\n\r]+$/, '');
    // Trim to max 80 chars, keeping col position near the middle
    if (ci >= 60 && lineStr.length > 80) {
        const trimStart = Math.min(ci - 39, lineStr.length - 79);
        lineStr = '…' + lineStr.substring(trimStart);
        ci -= trimStart - 1;
    }
    if (lineStr.length > 80)
        lineStr = lineStr.substring(0, 79) + '…';
    // Include previous line in context if pointing at line start
    if (line > 1 && /^ *$/.test(lineStr.substring(0, ci))) {
        // Regexp won't match if start is trimmed
        let prev = src.substring(lc.lineStarts[line - 2], lc.lineStarts[line - 1]);
        if (prev.length > 80)
            prev = prev.substring(0, 79) + '…\n';
        lineStr = prev + lineStr;
    }
    if (/[^ ]/.test(lineStr)) {
        let count = 1;
        const end = error.linePos[1];
        if (end?.line === line && end.col > col) {
            count = Math.max(1, Math.min(end.col - col, 80 - ci));
        }
        const pointer = ' '.repeat(ci) + '^'.repeat(count);
        error.message += `:\n\n${lineStr}\n${pointer}\n`;
    }
};

function resolveProps(tokens, { flow, indicator, next, offset, onError, parentIndent, startOnNewline }) {
    let spaceBefore = false;
    let atNewline = startOnNewline;
    let hasSpace = startOnNewline;
    let comment = '';
    let commentSep = '';
    let hasNewline = false;
    let reqSpace = false;
    let tab = null;
    let anchor = null;
    let tag = null;
    let newlineAfterProp = null;
    let comma = null;
    let found = null;
    let start = null;
    for (const token of tokens) {
        if (reqSpace) {
            if (token.type !== 'space' &&
                token.type !== 'newline' &&
                token.type !== 'comma')
                onError(token.offset, 'MISSING_CHAR', 'Tags and anchors must be separated from the next token by white space');
            reqSpace = false;
        }
        if (tab) {
            if (atNewline && token.type !== 'comment' && token.type !== 'newline') {
                onError(tab, 'TAB_AS_INDENT', 'Tabs are not allowed as indentation');
            }
            tab = null;
        }
        switch (token.type) {
            case 'space':
                // At the doc level, tabs at line start may be parsed
                // as leading white space rather than indentation.
                // In a flow collection, only the parser handles indent.
                if (!flow &&
                    (indicator !== 'doc-start' || next?.type !== 'flow-collection') &&
                    token.source.includes('\t')) {
                    tab = token;
                }
                hasSpace = true;
                break;
            case 'comment': {
                if (!hasSpace)
                    onError(token, 'MISSING_CHAR', 'Comments must be separated from other tokens by white space characters');
                const cb = token.source.substring(1) || ' ';
                if (!comment)
                    comment = cb;
                else
                    comment += commentSep + cb;
                commentSep = '';
                atNewline = false;
                break;
            }
            case 'newline':
                if (atNewline) {
                    if (comment)
                        comment += token.source;
                    else if (!found || indicator !== 'seq-item-ind')
                        spaceBefore = true;
                }
                else
                    commentSep += token.source;
                atNewline = true;
                hasNewline = true;
                if (anchor || tag)
                    newlineAfterProp = token;
                hasSpace = true;
                break;
            case 'anchor':
                if (anchor)
                    onError(token, 'MULTIPLE_ANCHORS', 'A node can have at most one anchor');
                if (token.source.endsWith(':'))
                    onError(token.offset + token.source.length - 1, 'BAD_ALIAS', 'Anchor ending in : is ambiguous', true);
                anchor = token;
                start ?? (start = token.offset);
                atNewline = false;
                hasSpace = false;
                reqSpace = true;
                break;
            case 'tag': {
                if (tag)
                    onError(token, 'MULTIPLE_TAGS', 'A node can have at most one tag');
                tag = token;
                start ?? (start = token.offset);
                atNewline = false;
                hasSpace = false;
                reqSpace = true;
                break;
            }
            case indicator:
                // Could here handle preceding comments differently
                if (anchor || tag)
                    onError(token, 'BAD_PROP_ORDER', `Anchors and tags must be after the ${token.source} indicator`);
                if (found)
                    onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${token.source} in ${flow ?? 'collection'}`);
                found = token;
                atNewline =
                    indicator === 'seq-item-ind' || indicator === 'explicit-key-ind';
                hasSpace = false;
                break;
            case 'comma':
                if (flow) {
                    if (comma)
                        onError(token, 'UNEXPECTED_TOKEN', `Unexpected , in ${flow}`);
                    comma = token;
                    atNewline = false;
                    hasSpace = false;
                    break;
                }
            // else fallthrough
            default:
                onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${token.type} token`);
                atNewline = false;
                hasSpace = false;
        }
    }
    const last = tokens[tokens.length - 1];
    const end = last ? last.offset + last.source.length : offset;
    if (reqSpace &&
        next &&
        next.type !== 'space' &&
        next.type !== 'newline' &&
        next.type !== 'comma' &&
        (next.type !== 'scalar' || next.source !== '')) {
        onError(next.offset, 'MISSING_CHAR', 'Tags and anchors must be separated from the next token by white space');
    }
    if (tab &&
        ((atNewline && tab.indent <= parentIndent) ||
            next?.type === 'block-map' ||
            next?.type === 'block-seq'))
        onError(tab, 'TAB_AS_INDENT', 'Tabs are not allowed as indentation');
    return {
        comma,
        found,
        spaceBefore,
        comment,
        hasNewline,
        anchor,
        tag,
        newlineAfterProp,
        end,
        start: start ?? end
    };
}

function containsNewline(key) {
    if (!key)
        return null;
    switch (key.type) {
        case 'alias':
        case 'scalar':
        case 'double-quoted-scalar':
        case 'single-quoted-scalar':
            if (key.source.includes('\n'))
                return true;
            if (key.end)
                for (const st of key.end)
                    if (st.type === 'newline')
                        return true;
            return false;
        case 'flow-collection':
            for (const it of key.items) {
                for (const st of it.start)
                    if (st.type === 'newline')
                        return true;
                if (it.sep)
                    for (const st of it.sep)
                        if (st.type === 'newline')
                            return true;
                if (containsNewline(it.key) || containsNewline(it.value))
                    return true;
            }
            return false;
        default:
            return true;
    }
}

function flowIndentCheck(indent, fc, onError) {
    if (fc?.type === 'flow-collection') {
        const end = fc.end[0];
        if (end.indent === indent &&
            (end.source === ']' || end.source === '}') &&
            containsNewline(fc)) {
            const msg = 'Flow end indicator should be more indented than parent';
            onError(end, 'BAD_INDENT', msg, true);
        }
    }
}

function mapIncludes(ctx, items, search) {
    const { uniqueKeys } = ctx.options;
    if (uniqueKeys === false)
        return false;
    const isEqual = typeof uniqueKeys === 'function'
        ? uniqueKeys
        : (a, b) => a === b || (isScalar(a) && isScalar(b) && a.value === b.value);
    return items.some(pair => isEqual(pair.key, search));
}

const startColMsg = 'All mapping items must start at the same column';
function resolveBlockMap({ composeNode, composeEmptyNode }, ctx, bm, onError, tag) {
    const NodeClass = tag?.nodeClass ?? YAMLMap;
    const map = new NodeClass(ctx.schema);
    if (ctx.atRoot)
        ctx.atRoot = false;
    let offset = bm.offset;
    let commentEnd = null;
    for (const collItem of bm.items) {
        const { start, key, sep, value } = collItem;
        // key properties
        const keyProps = resolveProps(start, {
            indicator: 'explicit-key-ind',
            next: key ?? sep?.[0],
            offset,
            onError,
            parentIndent: bm.indent,
            startOnNewline: true
        });
        const implicitKey = !keyProps.found;
        if (implicitKey) {
            if (key) {
                if (key.type === 'block-seq')
                    onError(offset, 'BLOCK_AS_IMPLICIT_KEY', 'A block sequence may not be used as an implicit map key');
                else if ('indent' in key && key.indent !== bm.indent)
                    onError(offset, 'BAD_INDENT', startColMsg);
            }
            if (!keyProps.anchor && !keyProps.tag && !sep) {
                commentEnd = keyProps.end;
                if (keyProps.comment) {
                    if (map.comment)
                        map.comment += '\n' + keyProps.comment;
                    else
                        map.comment = keyProps.comment;
                }
                continue;
            }
            if (keyProps.newlineAfterProp || containsNewline(key)) {
                onError(key ?? start[start.length - 1], 'MULTILINE_IMPLICIT_KEY', 'Implicit keys need to be on a single line');
            }
        }
        else if (keyProps.found?.indent !== bm.indent) {
            onError(offset, 'BAD_INDENT', startColMsg);
        }
        // key value
        ctx.atKey = true;
        const keyStart = keyProps.end;
        const keyNode = key
            ? composeNode(ctx, key, keyProps, onError)
            : composeEmptyNode(ctx, keyStart, start, null, keyProps, onError);
        if (ctx.schema.compat)
            flowIndentCheck(bm.indent, key, onError);
        ctx.atKey = false;
        if (mapIncludes(ctx, map.items, keyNode))
            onError(keyStart, 'DUPLICATE_KEY', 'Map keys must be unique');
        // value properties
        const valueProps = resolveProps(sep ?? [], {
            indicator: 'map-value-ind',
            next: value,
            offset: keyNode.range[2],
            onError,
            parentIndent: bm.indent,
            startOnNewline: !key || key.type === 'block-scalar'
        });
        offset = valueProps.end;
        if (valueProps.found) {
            if (implicitKey) {
                if (value?.type === 'block-map' && !valueProps.hasNewline)
                    onError(offset, 'BLOCK_AS_IMPLICIT_KEY', 'Nested mappings are not allowed in compact mappings');
                if (ctx.options.strict &&
                    keyProps.start < valueProps.found.offset - 1024)
                    onError(keyNode.range, 'KEY_OVER_1024_CHARS', 'The : indicator must be at most 1024 chars after the start of an implicit block mapping key');
            }
            // value value
            const valueNode = value
                ? composeNode(ctx, value, valueProps, onError)
                : composeEmptyNode(ctx, offset, sep, null, valueProps, onError);
            if (ctx.schema.compat)
                flowIndentCheck(bm.indent, value, onError);
            offset = valueNode.range[2];
            const pair = new Pair(keyNode, valueNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            map.items.push(pair);
        }
        else {
            // key with no value
            if (implicitKey)
                onError(keyNode.range, 'MISSING_CHAR', 'Implicit map keys need to be followed by map values');
            if (valueProps.comment) {
                if (keyNode.comment)
                    keyNode.comment += '\n' + valueProps.comment;
                else
                    keyNode.comment = valueProps.comment;
            }
            const pair = new Pair(keyNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            map.items.push(pair);
        }
    }
    if (commentEnd && commentEnd < offset)
        onError(commentEnd, 'IMPOSSIBLE', 'Map comment with trailing content');
    map.range = [bm.offset, offset, commentEnd ?? offset];
    return map;
}

function resolveBlockSeq({ composeNode, composeEmptyNode }, ctx, bs, onError, tag) {
    const NodeClass = tag?.nodeClass ?? YAMLSeq;
    const seq = new NodeClass(ctx.schema);
    if (ctx.atRoot)
        ctx.atRoot = false;
    if (ctx.atKey)
        ctx.atKey = false;
    let offset = bs.offset;
    let commentEnd = null;
    for (const { start, value } of bs.items) {
        const props = resolveProps(start, {
            indicator: 'seq-item-ind',
            next: value,
            offset,
            onError,
            parentIndent: bs.indent,
            startOnNewline: true
        });
        if (!props.found) {
            if (props.anchor || props.tag || value) {
                if (value?.type === 'block-seq')
                    onError(props.end, 'BAD_INDENT', 'All sequence items must start at the same column');
                else
                    onError(offset, 'MISSING_CHAR', 'Sequence item without - indicator');
            }
            else {
                commentEnd = props.end;
                if (props.comment)
                    seq.comment = props.comment;
                continue;
            }
        }
        const node = value
            ? composeNode(ctx, value, props, onError)
            : composeEmptyNode(ctx, props.end, start, null, props, onError);
        if (ctx.schema.compat)
            flowIndentCheck(bs.indent, value, onError);
        offset = node.range[2];
        seq.items.push(node);
    }
    seq.range = [bs.offset, offset, commentEnd ?? offset];
    return seq;
}

function resolveEnd(end, offset, reqSpace, onError) {
    let comment = '';
    if (end) {
        let hasSpace = false;
        let sep = '';
        for (const token of end) {
            const { source, type } = token;
            switch (type) {
                case 'space':
                    hasSpace = true;
                    break;
                case 'comment': {
                    if (reqSpace && !hasSpace)
                        onError(token, 'MISSING_CHAR', 'Comments must be separated from other tokens by white space characters');
                    const cb = source.substring(1) || ' ';
                    if (!comment)
                        comment = cb;
                    else
                        comment += sep + cb;
                    sep = '';
                    break;
                }
                case 'newline':
                    if (comment)
                        sep += source;
                    hasSpace = true;
                    break;
                default:
                    onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${type} at node end`);
            }
            offset += source.length;
        }
    }
    return { comment, offset };
}

const blockMsg = 'Block collections are not allowed within flow collections';
const isBlock = (token) => token && (token.type === 'block-map' || token.type === 'block-seq');
function resolveFlowCollection({ composeNode, composeEmptyNode }, ctx, fc, onError, tag) {
    const isMap = fc.start.source === '{';
    const fcName = isMap ? 'flow map' : 'flow sequence';
    const NodeClass = (tag?.nodeClass ?? (isMap ? YAMLMap : YAMLSeq));
    const coll = new NodeClass(ctx.schema);
    coll.flow = true;
    const atRoot = ctx.atRoot;
    if (atRoot)
        ctx.atRoot = false;
    if (ctx.atKey)
        ctx.atKey = false;
    let offset = fc.offset + fc.start.source.length;
    for (let i = 0; i < fc.items.length; ++i) {
        const collItem = fc.items[i];
        const { start, key, sep, value } = collItem;
        const props = resolveProps(start, {
            flow: fcName,
            indicator: 'explicit-key-ind',
            next: key ?? sep?.[0],
            offset,
            onError,
            parentIndent: fc.indent,
            startOnNewline: false
        });
        if (!props.found) {
            if (!props.anchor && !props.tag && !sep && !value) {
                if (i === 0 && props.comma)
                    onError(props.comma, 'UNEXPECTED_TOKEN', `Unexpected , in ${fcName}`);
                else if (i < fc.items.length - 1)
                    onError(props.start, 'UNEXPECTED_TOKEN', `Unexpected empty item in ${fcName}`);
                if (props.comment) {
                    if (coll.comment)
                        coll.comment += '\n' + props.comment;
                    else
                        coll.comment = props.comment;
                }
                offset = props.end;
                continue;
            }
            if (!isMap && ctx.options.strict && containsNewline(key))
                onError(key, // checked by containsNewline()
                'MULTILINE_IMPLICIT_KEY', 'Implicit keys of flow sequence pairs need to be on a single line');
        }
        if (i === 0) {
            if (props.comma)
                onError(props.comma, 'UNEXPECTED_TOKEN', `Unexpected , in ${fcName}`);
        }
        else {
            if (!props.comma)
                onError(props.start, 'MISSING_CHAR', `Missing , between ${fcName} items`);
            if (props.comment) {
                let prevItemComment = '';
                loop: for (const st of start) {
                    switch (st.type) {
                        case 'comma':
                        case 'space':
                            break;
                        case 'comment':
                            prevItemComment = st.source.substring(1);
                            break loop;
                        default:
                            break loop;
                    }
                }
                if (prevItemComment) {
                    let prev = coll.items[coll.items.length - 1];
                    if (isPair(prev))
                        prev = prev.value ?? prev.key;
                    if (prev.comment)
                        prev.comment += '\n' + prevItemComment;
                    else
                        prev.comment = prevItemComment;
                    props.comment = props.comment.substring(prevItemComment.length + 1);
                }
            }
        }
        if (!isMap && !sep && !props.found) {
            // item is a value in a seq
            // → key & sep are empty, start does not include ? or :
            const valueNode = value
                ? composeNode(ctx, value, props, onError)
                : composeEmptyNode(ctx, props.end, sep, null, props, onError);
            coll.items.push(valueNode);
            offset = valueNode.range[2];
            if (isBlock(value))
                onError(valueNode.range, 'BLOCK_IN_FLOW', blockMsg);
        }
        else {
            // item is a key+value pair
            // key value
            ctx.atKey = true;
            const keyStart = props.end;
            const keyNode = key
                ? composeNode(ctx, key, props, onError)
                : composeEmptyNode(ctx, keyStart, start, null, props, onError);
            if (isBlock(key))
                onError(keyNode.range, 'BLOCK_IN_FLOW', blockMsg);
            ctx.atKey = false;
            // value properties
            const valueProps = resolveProps(sep ?? [], {
                flow: fcName,
                indicator: 'map-value-ind',
                next: value,
                offset: keyNode.range[2],
                onError,
                parentIndent: fc.indent,
                startOnNewline: false
            });
            if (valueProps.found) {
                if (!isMap && !props.found && ctx.options.strict) {
                    if (sep)
                        for (const st of sep) {
                            if (st === valueProps.found)
                                break;
                            if (st.type === 'newline') {
                                onError(st, 'MULTILINE_IMPLICIT_KEY', 'Implicit keys of flow sequence pairs need to be on a single line');
                                break;
                            }
                        }
                    if (props.start < valueProps.found.offset - 1024)
                        onError(valueProps.found, 'KEY_OVER_1024_CHARS', 'The : indicator must be at most 1024 chars after the start of an implicit flow sequence key');
                }
            }
            else if (value) {
                if ('source' in value && value.source?.[0] === ':')
                    onError(value, 'MISSING_CHAR', `Missing space after : in ${fcName}`);
                else
                    onError(valueProps.start, 'MISSING_CHAR', `Missing , or : between ${fcName} items`);
            }
            // value value
            const valueNode = value
                ? composeNode(ctx, value, valueProps, onError)
                : valueProps.found
                    ? composeEmptyNode(ctx, valueProps.end, sep, null, valueProps, onError)
                    : null;
            if (valueNode) {
                if (isBlock(value))
                    onError(valueNode.range, 'BLOCK_IN_FLOW', blockMsg);
            }
            else if (valueProps.comment) {
                if (keyNode.comment)
                    keyNode.comment += '\n' + valueProps.comment;
                else
                    keyNode.comment = valueProps.comment;
            }
            const pair = new Pair(keyNode, valueNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            if (isMap) {
                const map = coll;
                if (mapIncludes(ctx, map.items, keyNode))
                    onError(keyStart, 'DUPLICATE_KEY', 'Map keys must be unique');
                map.items.push(pair);
            }
            else {
                const map = new YAMLMap(ctx.schema);
                map.flow = true;
                map.items.push(pair);
                const endRange = (valueNode ?? keyNode).range;
                map.range = [keyNode.range[0], endRange[1], endRange[2]];
                coll.items.push(map);
            }
            offset = valueNode ? valueNode.range[2] : valueProps.end;
        }
    }
    const expectedEnd = isMap ? '}' : ']';
    const [ce, ...ee] = fc.end;
    let cePos = offset;
    if (ce?.source === expectedEnd)
        cePos = ce.offset + ce.source.length;
    else {
        const name = fcName[0].toUpperCase() + fcName.substring(1);
        const msg = atRoot
            ? `${name} must end with a ${expectedEnd}`
            : `${name} in block collection must be sufficiently indented and end with a ${expectedEnd}`;
        onError(offset, atRoot ? 'MISSING_CHAR' : 'BAD_INDENT', msg);
        if (ce && ce.source.length !== 1)
            ee.unshift(ce);
    }
    if (ee.length > 0) {
        const end = resolveEnd(ee, cePos, ctx.options.strict, onError);
        if (end.comment) {
            if (coll.comment)
                coll.comment += '\n' + end.comment;
            else
                coll.comment = end.comment;
        }
        coll.range = [fc.offset, cePos, end.offset];
    }
    else {
        coll.range = [fc.offset, cePos, cePos];
    }
    return coll;
}

function resolveCollection(CN, ctx, token, onError, tagName, tag) {
    const coll = token.type === 'block-map'
        ? resolveBlockMap(CN, ctx, token, onError, tag)
        : token.type === 'block-seq'
            ? resolveBlockSeq(CN, ctx, token, onError, tag)
            : resolveFlowCollection(CN, ctx, token, onError, tag);
    const Coll = coll.constructor;
    // If we got a tagName matching the class, or the tag name is '!',
    // then use the tagName from the node class used to create it.
    if (tagName === '!' || tagName === Coll.tagName) {
        coll.tag = Coll.tagName;
        return coll;
    }
    if (tagName)
        coll.tag = tagName;
    return coll;
}
function composeCollection(CN, ctx, token, props, onError) {
    const tagToken = props.tag;
    const tagName = !tagToken
        ? null
        : ctx.directives.tagName(tagToken.source, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg));
    if (token.type === 'block-seq') {
        const { anchor, newlineAfterProp: nl } = props;
        const lastProp = anchor && tagToken
            ? anchor.offset > tagToken.offset
                ? anchor
                : tagToken
            : (anchor ?? tagToken);
        if (lastProp && (!nl || nl.offset < lastProp.offset)) {
            const message = 'Missing newline after block sequence props';
            onError(lastProp, 'MISSING_CHAR', message);
        }
    }
    const expType = token.type === 'block-map'
        ? 'map'
        : token.type === 'block-seq'
            ? 'seq'
            : token.start.source === '{'
                ? 'map'
                : 'seq';
    // shortcut: check if it's a generic YAMLMap or YAMLSeq
    // before jumping into the custom tag logic.
    if (!tagToken ||
        !tagName ||
        tagName === '!' ||
        (tagName === YAMLMap.tagName && expType === 'map') ||
        (tagName === YAMLSeq.tagName && expType === 'seq')) {
        return resolveCollection(CN, ctx, token, onError, tagName);
    }
    let tag = ctx.schema.tags.find(t => t.tag === tagName && t.collection === expType);
    if (!tag) {
        const kt = ctx.schema.knownTags[tagName];
        if (kt?.collection === expType) {
            ctx.schema.tags.push(Object.assign({}, kt, { default: false }));
            tag = kt;
        }
        else {
            if (kt) {
                onError(tagToken, 'BAD_COLLECTION_TYPE', `${kt.tag} used for ${expType} collection, but expects ${kt.collection ?? 'scalar'}`, true);
            }
            else {
                onError(tagToken, 'TAG_RESOLVE_FAILED', `Unresolved tag: ${tagName}`, true);
            }
            return resolveCollection(CN, ctx, token, onError, tagName);
        }
    }
    const coll = resolveCollection(CN, ctx, token, onError, tagName, tag);
    const res = tag.resolve?.(coll, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg), ctx.options) ?? coll;
    const node = isNode(res)
        ? res
        : new Scalar(res);
    node.range = coll.range;
    node.tag = tagName;
    if (tag?.format)
        node.format = tag.format;
    return node;
}

function resolveBlockScalar(ctx, scalar, onError) {
    const start = scalar.offset;
    const header = parseBlockScalarHeader(scalar, ctx.options.strict, onError);
    if (!header)
        return { value: '', type: null, comment: '', range: [start, start, start] };
    const type = header.mode === '>' ? Scalar.BLOCK_FOLDED : Scalar.BLOCK_LITERAL;
    const lines = scalar.source ? splitLines(scalar.source) : [];
    // determine the end of content & start of chomping
    let chompStart = lines.length;
    for (let i = lines.length - 1; i >= 0; --i) {
        const content = lines[i][1];
        if (content === '' || content === '\r')
            chompStart = i;
        else
            break;
    }
    // shortcut for empty contents
    if (chompStart === 0) {
        const value = header.chomp === '+' && lines.length > 0
            ? '\n'.repeat(Math.max(1, lines.length - 1))
            : '';
        let end = start + header.length;
        if (scalar.source)
            end += scalar.source.length;
        return { value, type, comment: header.comment, range: [start, end, end] };
    }
    // find the indentation level to trim from start
    let trimIndent = scalar.indent + header.indent;
    let offset = scalar.offset + header.length;
    let contentStart = 0;
    for (let i = 0; i < chompStart; ++i) {
        const [indent, content] = lines[i];
        if (content === '' || content === '\r') {
            if (header.indent === 0 && indent.length > trimIndent)
                trimIndent = indent.length;
        }
        else {
            if (indent.length < trimIndent) {
                const message = 'Block scalars with more-indented leading empty lines must use an explicit indentation indicator';
                onError(offset + indent.length, 'MISSING_CHAR', message);
            }
            if (header.indent === 0)
                trimIndent = indent.length;
            contentStart = i;
            if (trimIndent === 0 && !ctx.atRoot) {
                const message = 'Block scalar values in collections must be indented';
                onError(offset, 'BAD_INDENT', message);
            }
            break;
        }
        offset += indent.length + content.length + 1;
    }
    // include trailing more-indented empty lines in content
    for (let i = lines.length - 1; i >= chompStart; --i) {
        if (lines[i][0].length > trimIndent)
            chompStart = i + 1;
    }
    let value = '';
    let sep = '';
    let prevMoreIndented = false;
    // leading whitespace is kept intact
    for (let i = 0; i < contentStart; ++i)
        value += lines[i][0].slice(trimIndent) + '\n';
    for (let i = contentStart; i < chompStart; ++i) {
        let [indent, content] = lines[i];
        offset += indent.length + content.length + 1;
        const crlf = content[content.length - 1] === '\r';
        if (crlf)
            content = content.slice(0, -1);
        /* istanbul ignore if already caught in lexer */
        if (content && indent.length < trimIndent) {
            const src = header.indent
                ? 'explicit indentation indicator'
                : 'first line';
            const message = `Block scalar lines must not be less indented than their ${src}`;
            onError(offset - content.length - (crlf ? 2 : 1), 'BAD_INDENT', message);
            indent = '';
        }
        if (type === Scalar.BLOCK_LITERAL) {
            value += sep + indent.slice(trimIndent) + content;
            sep = '\n';
        }
        else if (indent.length > trimIndent || content[0] === '\t') {
            // more-indented content within a folded block
            if (sep === ' ')
                sep = '\n';
            else if (!prevMoreIndented && sep === '\n')
                sep = '\n\n';
            value += sep + indent.slice(trimIndent) + content;
            sep = '\n';
            prevMoreIndented = true;
        }
        else if (content === '') {
            // empty line
            if (sep === '\n')
                value += '\n';
            else
                sep = '\n';
        }
        else {
            value += sep + content;
            sep = ' ';
            prevMoreIndented = false;
        }
    }
    switch (header.chomp) {
        case '-':
            break;
        case '+':
            for (let i = chompStart; i < lines.length; ++i)
                value += '\n' + lines[i][0].slice(trimIndent);
            if (value[value.length - 1] !== '\n')
                value += '\n';
            break;
        default:
            value += '\n';
    }
    const end = start + header.length + scalar.source.length;
    return { value, type, comment: header.comment, range: [start, end, end] };
}
function parseBlockScalarHeader({ offset, props }, strict, onError) {
    /* istanbul ignore if should not happen */
    if (props[0].type !== 'block-scalar-header') {
        onError(props[0], 'IMPOSSIBLE', 'Block scalar header not found');
        return null;
    }
    const { source } = props[0];
    const mode = source[0];
    let indent = 0;
    let chomp = '';
    let error = -1;
    for (let i = 1; i < source.length; ++i) {
        const ch = source[i];
        if (!chomp && (ch === '-' || ch === '+'))
            chomp = ch;
        else {
            const n = Number(ch);
            if (!indent && n)
                indent = n;
            else if (error === -1)
                error = offset + i;
        }
    }
    if (error !== -1)
        onError(error, 'UNEXPECTED_TOKEN', `Block scalar header includes extra characters: ${source}`);
    let hasSpace = false;
    let comment = '';
    let length = source.length;
    for (let i = 1; i < props.length; ++i) {
        const token = props[i];
        switch (token.type) {
            case 'space':
                hasSpace = true;
            // fallthrough
            case 'newline':
                length += token.source.length;
                break;
            case 'comment':
                if (strict && !hasSpace) {
                    const message = 'Comments must be separated from other tokens by white space characters';
                    onError(token, 'MISSING_CHAR', message);
                }
                length += token.source.length;
                comment = token.source.substring(1);
                break;
            case 'error':
                onError(token, 'UNEXPECTED_TOKEN', token.message);
                length += token.source.length;
                break;
            /* istanbul ignore next should not happen */
            default: {
                const message = `Unexpected token in block scalar header: ${token.type}`;
                onError(token, 'UNEXPECTED_TOKEN', message);
                const ts = token.source;
                if (ts && typeof ts === 'string')
                    length += ts.length;
            }
        }
    }
    return { mode, indent, chomp, comment, length };
}
/** @returns Array of lines split up as `[indent, content]` */
function splitLines(source) {
    const split = source.split(/\n( *)/);
    const first = split[0];
    const m = first.match(/^( *)/);
    const line0 = m?.[1]
        ? [m[1], first.slice(m[1].length)]
        : ['', first];
    const lines = [line0];
    for (let i = 1; i < split.length; i += 2)
        lines.push([split[i], split[i + 1]]);
    return lines;
}

function resolveFlowScalar(scalar, strict, onError) {
    const { offset, type, source, end } = scalar;
    let _type;
    let value;
    const _onError = (rel, code, msg) => onError(offset + rel, code, msg);
    switch (type) {
        case 'scalar':
            _type = Scalar.PLAIN;
            value = plainValue(source, _onError);
            break;
        case 'single-quoted-scalar':
            _type = Scalar.QUOTE_SINGLE;
            value = singleQuotedValue(source, _onError);
            break;
        case 'double-quoted-scalar':
            _type = Scalar.QUOTE_DOUBLE;
            value = doubleQuotedValue(source, _onError);
            break;
        /* istanbul ignore next should not happen */
        default:
            onError(scalar, 'UNEXPECTED_TOKEN', `Expected a flow scalar value, but found: ${type}`);
            return {
                value: '',
                type: null,
                comment: '',
                range: [offset, offset + source.length, offset + source.length]
            };
    }
    const valueEnd = offset + source.length;
    const re = resolveEnd(end, valueEnd, strict, onError);
    return {
        value,
        type: _type,
        comment: re.comment,
        range: [offset, valueEnd, re.offset]
    };
}
function plainValue(source, onError) {
    let badChar = '';
    switch (source[0]) {
        /* istanbul ignore next should not happen */
        case '\t':
            badChar = 'a tab character';
            break;
        case ',':
            badChar = 'flow indicator character ,';
            break;
        case '%':
            badChar = 'directive indicator character %';
            break;
        case '|':
        case '>': {
            badChar = `block scalar indicator ${source[0]}`;
            break;
        }
        case '@':
        case '`': {
            badChar = `reserved character ${source[0]}`;
            break;
        }
    }
    if (badChar)
        onError(0, 'BAD_SCALAR_START', `Plain value cannot start with ${badChar}`);
    return unfoldLines(source);
}
function singleQuotedValue(source, onError) {
    if (source[source.length - 1] !== "'" || source.length === 1)
        onError(source.length, 'MISSING_CHAR', "Missing closing 'quote");
    return unfoldLines(source.slice(1, -1)).replace(/''/g, "'");
}
function unfoldLines(source) {
    const line = /(.*?)\r?\n/sy;
    let match = line.exec(source);
    if (!match)
        return source;
    /**
     * The negative lookbehinds in these RegExps are to
     * prevent causing a polynomial search time in certain cases.
     *
     * The try-catch is for Safari < 16.4 and other old browsers:
     * https://caniuse.com/js-regexp-lookbehind
     */
    let trimEnd, trimBoth;
    try {
        trimEnd = new RegExp('(?<![ \t])[ \t]+$');
        trimBoth = new RegExp('^[ \t]+|(?<![ \t])[ \t]+$', 'g');
    }
    catch {
        trimEnd = /[ \t]+$/;
        trimBoth = /^[ \t]+|[ \t]+$/g;
    }
    let res = match[1].replace(trimEnd, '');
    let sep = ' ';
    let pos = line.lastIndex;
    while ((match = line.exec(source))) {
        const lm = match[1].replace(trimBoth, '');
        if (lm === '') {
            if (sep === '\n')
                res += sep;
            else
                sep = '\n';
        }
        else {
            res += sep + lm;
            sep = ' ';
        }
        pos = line.lastIndex;
    }
    const last = /[ \t]*(.*)/sy;
    last.lastIndex = pos;
    match = last.exec(source);
    return res + sep + (match?.[1] ?? '');
}
function doubleQuotedValue(source, onError) {
    let res = '';
    for (let i = 1; i < source.length - 1; ++i) {
        const ch = source[i];
        if (ch === '\r' && source[i + 1] === '\n')
            continue;
        if (ch === '\n') {
            const { fold, offset } = foldNewline(source, i);
            res += fold;
            i = offset;
        }
        else if (ch === '\\') {
            let next = source[++i];
            const cc = escapeCodes[next];
            if (cc)
                res += cc;
            else if (next === '\n') {
                // skip escaped newlines, but still trim the following line
                next = source[i + 1];
                while (next === ' ' || next === '\t')
                    next = source[++i + 1];
            }
            else if (next === '\r' && source[i + 1] === '\n') {
                // skip escaped CRLF newlines, but still trim the following line
                next = source[++i + 1];
                while (next === ' ' || next === '\t')
                    next = source[++i + 1];
            }
            else if (next === 'x' || next === 'u' || next === 'U') {
                const length = next === 'x' ? 2 : next === 'u' ? 4 : 8;
                res += parseCharCode(source, i + 1, length, onError);
                i += length;
            }
            else {
                const raw = source.substr(i - 1, 2);
                onError(i - 1, 'BAD_DQ_ESCAPE', `Invalid escape sequence ${raw}`);
                res += raw;
            }
        }
        else if (ch === ' ' || ch === '\t') {
            // trim trailing whitespace
            const wsStart = i;
            let next = source[i + 1];
            while (next === ' ' || next === '\t')
                next = source[++i + 1];
            if (next !== '\n' && !(next === '\r' && source[i + 2] === '\n'))
                res += i > wsStart ? source.slice(wsStart, i + 1) : ch;
        }
        else {
            res += ch;
        }
    }
    if (source[source.length - 1] !== '"' || source.length === 1)
        onError(source.length, 'MISSING_CHAR', 'Missing closing "quote');
    return res;
}
/**
 * Fold a single newline into a space, multiple newlines to N - 1 newlines.
 * Presumes `source[offset] === '\n'`
 */
function foldNewline(source, offset) {
    let fold = '';
    let ch = source[offset + 1];
    while (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
        if (ch === '\r' && source[offset + 2] !== '\n')
            break;
        if (ch === '\n')
            fold += '\n';
        offset += 1;
        ch = source[offset + 1];
    }
    if (!fold)
        fold = ' ';
    return { fold, offset };
}
const escapeCodes = {
    '0': '\0', // null character
    a: '\x07', // bell character
    b: '\b', // backspace
    e: '\x1b', // escape character
    f: '\f', // form feed
    n: '\n', // line feed
    r: '\r', // carriage return
    t: '\t', // horizontal tab
    v: '\v', // vertical tab
    N: '\u0085', // Unicode next line
    _: '\u00a0', // Unicode non-breaking space
    L: '\u2028', // Unicode line separator
    P: '\u2029', // Unicode paragraph separator
    ' ': ' ',
    '"': '"',
    '/': '/',
    '\\': '\\',
    '\t': '\t'
};
function parseCharCode(source, offset, length, onError) {
    const cc = source.substr(offset, length);
    const ok = cc.length === length && /^[0-9a-fA-F]+$/.test(cc);
    const code = ok ? parseInt(cc, 16) : NaN;
    try {
        return String.fromCodePoint(code);
    }
    catch {
        const raw = source.substr(offset - 2, length + 2);
        onError(offset - 2, 'BAD_DQ_ESCAPE', `Invalid escape sequence ${raw}`);
        return raw;
    }
}

function composeScalar(ctx, token, tagToken, onError) {
    const { value, type, comment, range } = token.type === 'block-scalar'
        ? resolveBlockScalar(ctx, token, onError)
        : resolveFlowScalar(token, ctx.options.strict, onError);
    const tagName = tagToken
        ? ctx.directives.tagName(tagToken.source, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg))
        : null;
    let tag;
    if (ctx.options.stringKeys && ctx.atKey) {
        tag = ctx.schema[SCALAR$1];
    }
    else if (tagName)
        tag = findScalarTagByName(ctx.schema, value, tagName, tagToken, onError);
    else if (token.type === 'scalar')
        tag = findScalarTagByTest(ctx, value, token, onError);
    else
        tag = ctx.schema[SCALAR$1];
    let scalar;
    try {
        const res = tag.resolve(value, msg => onError(tagToken ?? token, 'TAG_RESOLVE_FAILED', msg), ctx.options);
        scalar = isScalar(res) ? res : new Scalar(res);
    }
    catch (error) {
        const msg = error instanceof Error ? error.message : String(error);
        onError(tagToken ?? token, 'TAG_RESOLVE_FAILED', msg);
        scalar = new Scalar(value);
    }
    scalar.range = range;
    scalar.source = value;
    if (type)
        scalar.type = type;
    if (tagName)
        scalar.tag = tagName;
    if (tag.format)
        scalar.format = tag.format;
    if (comment)
        scalar.comment = comment;
    return scalar;
}
function findScalarTagByName(schema, value, tagName, tagToken, onError) {
    if (tagName === '!')
        return schema[SCALAR$1]; // non-specific tag
    const matchWithTest = [];
    for (const tag of schema.tags) {
        if (!tag.collection && tag.tag === tagName) {
            if (tag.default && tag.test)
                matchWithTest.push(tag);
            else
                return tag;
        }
    }
    for (const tag of matchWithTest)
        if (tag.test?.test(value))
            return tag;
    const kt = schema.knownTags[tagName];
    if (kt && !kt.collection) {
        // Ensure that the known tag is available for stringifying,
        // but does not get used by default.
        schema.tags.push(Object.assign({}, kt, { default: false, test: undefined }));
        return kt;
    }
    onError(tagToken, 'TAG_RESOLVE_FAILED', `Unresolved tag: ${tagName}`, tagName !== 'tag:yaml.org,2002:str');
    return schema[SCALAR$1];
}
function findScalarTagByTest({ atKey, directives, schema }, value, token, onError) {
    const tag = schema.tags.find(tag => (tag.default === true || (atKey && tag.default === 'key')) &&
        tag.test?.test(value)) || schema[SCALAR$1];
    if (schema.compat) {
        const compat = schema.compat.find(tag => tag.default && tag.test?.test(value)) ??
            schema[SCALAR$1];
        if (tag.tag !== compat.tag) {
            const ts = directives.tagString(tag.tag);
            const cs = directives.tagString(compat.tag);
            const msg = `Value may be parsed as either ${ts} or ${cs}`;
            onError(token, 'TAG_RESOLVE_FAILED', msg, true);
        }
    }
    return tag;
}

function emptyScalarPosition(offset, before, pos) {
    if (before) {
        pos ?? (pos = before.length);
        for (let i = pos - 1; i >= 0; --i) {
            let st = before[i];
            switch (st.type) {
                case 'space':
                case 'comment':
                case 'newline':
                    offset -= st.source.length;
                    continue;
            }
            // Technically, an empty scalar is immediately after the last non-empty
            // node, but it's more useful to place it after any whitespace.
            st = before[++i];
            while (st?.type === 'space') {
                offset += st.source.length;
                st = before[++i];
            }
            break;
        }
    }
    return offset;
}

const CN = { composeNode, composeEmptyNode };
function composeNode(ctx, token, props, onError) {
    const atKey = ctx.atKey;
    const { spaceBefore, comment, anchor, tag } = props;
    let node;
    let isSrcToken = true;
    switch (token.type) {
        case 'alias':
            node = composeAlias(ctx, token, onError);
            if (anchor || tag)
                onError(token, 'ALIAS_PROPS', 'An alias node must not specify any properties');
            break;
        case 'scalar':
        case 'single-quoted-scalar':
        case 'double-quoted-scalar':
        case 'block-scalar':
            node = composeScalar(ctx, token, tag, onError);
            if (anchor)
                node.anchor = anchor.source.substring(1);
            break;
        case 'block-map':
        case 'block-seq':
        case 'flow-collection':
            try {
                node = composeCollection(CN, ctx, token, props, onError);
                if (anchor)
                    node.anchor = anchor.source.substring(1);
            }
            catch (error) {
                // Almost certainly here due to a stack overflow
                const message = error instanceof Error ? error.message : String(error);
                onError(token, 'RESOURCE_EXHAUSTION', message);
            }
            break;
        default: {
            const message = token.type === 'error'
                ? token.message
                : `Unsupported token (type: ${token.type})`;
            onError(token, 'UNEXPECTED_TOKEN', message);
            isSrcToken = false;
        }
    }
    node ?? (node = composeEmptyNode(ctx, token.offset, undefined, null, props, onError));
    if (anchor && node.anchor === '')
        onError(anchor, 'BAD_ALIAS', 'Anchor cannot be an empty string');
    if (atKey &&
        ctx.options.stringKeys &&
        (!isScalar(node) ||
            typeof node.value !== 'string' ||
            (node.tag && node.tag !== 'tag:yaml.org,2002:str'))) {
        const msg = 'With stringKeys, all keys must be strings';
        onError(tag ?? token, 'NON_STRING_KEY', msg);
    }
    if (spaceBefore)
        node.spaceBefore = true;
    if (comment) {
        if (token.type === 'scalar' && token.source === '')
            node.comment = comment;
        else
            node.commentBefore = comment;
    }
    // @ts-expect-error Type checking misses meaning of isSrcToken
    if (ctx.options.keepSourceTokens && isSrcToken)
        node.srcToken = token;
    return node;
}
function composeEmptyNode(ctx, offset, before, pos, { spaceBefore, comment, anchor, tag, end }, onError) {
    const token = {
        type: 'scalar',
        offset: emptyScalarPosition(offset, before, pos),
        indent: -1,
        source: ''
    };
    const node = composeScalar(ctx, token, tag, onError);
    if (anchor) {
        node.anchor = anchor.source.substring(1);
        if (node.anchor === '')
            onError(anchor, 'BAD_ALIAS', 'Anchor cannot be an empty string');
    }
    if (spaceBefore)
        node.spaceBefore = true;
    if (comment) {
        node.comment = comment;
        node.range[2] = end;
    }
    return node;
}
function composeAlias({ options }, { offset, source, end }, onError) {
    const alias = new Alias(source.substring(1));
    if (alias.source === '')
        onError(offset, 'BAD_ALIAS', 'Alias cannot be an empty string');
    if (alias.source.endsWith(':'))
        onError(offset + source.length - 1, 'BAD_ALIAS', 'Alias ending in : is ambiguous', true);
    const valueEnd = offset + source.length;
    const re = resolveEnd(end, valueEnd, options.strict, onError);
    alias.range = [offset, valueEnd, re.offset];
    if (re.comment)
        alias.comment = re.comment;
    return alias;
}

function composeDoc(options, directives, { offset, start, value, end }, onError) {
    const opts = Object.assign({ _directives: directives }, options);
    const doc = new Document(undefined, opts);
    const ctx = {
        atKey: false,
        atRoot: true,
        directives: doc.directives,
        options: doc.options,
        schema: doc.schema
    };
    const props = resolveProps(start, {
        indicator: 'doc-start',
        next: value ?? end?.[0],
        offset,
        onError,
        parentIndent: 0,
        startOnNewline: true
    });
    if (props.found) {
        doc.directives.docStart = true;
        if (value &&
            (value.type === 'block-map' || value.type === 'block-seq') &&
            !props.hasNewline)
            onError(props.end, 'MISSING_CHAR', 'Block collection cannot start on same line with directives-end marker');
    }
    // @ts-expect-error If Contents is set, let's trust the user
    doc.contents = value
        ? composeNode(ctx, value, props, onError)
        : composeEmptyNode(ctx, props.end, start, null, props, onError);
    const contentEnd = doc.contents.range[2];
    const re = resolveEnd(end, contentEnd, false, onError);
    if (re.comment)
        doc.comment = re.comment;
    doc.range = [offset, contentEnd, re.offset];
    return doc;
}

function getErrorPos(src) {
    if (typeof src === 'number')
        return [src, src + 1];
    if (Array.isArray(src))
        return src.length === 2 ? src : [src[0], src[1]];
    const { offset, source } = src;
    return [offset, offset + (typeof source === 'string' ? source.length : 1)];
}
function parsePrelude(prelude) {
    let comment = '';
    let atComment = false;
    let afterEmptyLine = false;
    for (let i = 0; i < prelude.length; ++i) {
        const source = prelude[i];
        switch (source[0]) {
            case '#':
                comment +=
                    (comment === '' ? '' : afterEmptyLine ? '\n\n' : '\n') +
                        (source.substring(1) || ' ');
                atComment = true;
                afterEmptyLine = false;
                break;
            case '%':
                if (prelude[i + 1]?.[0] !== '#')
                    i += 1;
                atComment = false;
                break;
            default:
                // This may be wrong after doc-end, but in that case it doesn't matter
                if (!atComment)
                    afterEmptyLine = true;
                atComment = false;
        }
    }
    return { comment, afterEmptyLine };
}
/**
 * Compose a stream of CST nodes into a stream of YAML Documents.
 *
 * ```ts
 * import { Composer, Parser } from 'yaml'
 *
 * const src: string = ...
 * const tokens = new Parser().parse(src)
 * const docs = new Composer().compose(tokens)
 * ```
 */
class Composer {
    constructor(options = {}) {
        this.doc = null;
        this.atDirectives = false;
        this.prelude = [];
        this.errors = [];
        this.warnings = [];
        this.onError = (source, code, message, warning) => {
            const pos = getErrorPos(source);
            if (warning)
                this.warnings.push(new YAMLWarning(pos, code, message));
            else
                this.errors.push(new YAMLParseError(pos, code, message));
        };
        // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
        this.directives = new Directives({ version: options.version || '1.2' });
        this.options = options;
    }
    decorate(doc, afterDoc) {
        const { comment, afterEmptyLine } = parsePrelude(this.prelude);
        //console.log({ dc: doc.comment, prelude, comment })
        if (comment) {
            const dc = doc.contents;
            if (afterDoc) {
                doc.comment = doc.comment ? `${doc.comment}\n${comment}` : comment;
            }
            else if (afterEmptyLine || doc.directives.docStart || !dc) {
                doc.commentBefore = comment;
            }
            else if (isCollection(dc) && !dc.flow && dc.items.length > 0) {
                let it = dc.items[0];
                if (isPair(it))
                    it = it.key;
                const cb = it.commentBefore;
                it.commentBefore = cb ? `${comment}\n${cb}` : comment;
            }
            else {
                const cb = dc.commentBefore;
                dc.commentBefore = cb ? `${comment}\n${cb}` : comment;
            }
        }
        if (afterDoc) {
            for (let i = 0; i < this.errors.length; ++i)
                doc.errors.push(this.errors[i]);
            for (let i = 0; i < this.warnings.length; ++i)
                doc.warnings.push(this.warnings[i]);
        }
        else {
            doc.errors = this.errors;
            doc.warnings = this.warnings;
        }
        this.prelude = [];
        this.errors = [];
        this.warnings = [];
    }
    /**
     * Current stream status information.
     *
     * Mostly useful at the end of input for an empty stream.
     */
    streamInfo() {
        return {
            comment: parsePrelude(this.prelude).comment,
            directives: this.directives,
            errors: this.errors,
            warnings: this.warnings
        };
    }
    /**
     * Compose tokens into documents.
     *
     * @param forceDoc - If the stream contains no document, still emit a final document including any comments and directives that would be applied to a subsequent document.
     * @param endOffset - Should be set if `forceDoc` is also set, to set the document range end and to indicate errors correctly.
     */
    *compose(tokens, forceDoc = false, endOffset = -1) {
        for (const token of tokens)
            yield* this.next(token);
        yield* this.end(forceDoc, endOffset);
    }
    /** Advance the composer by one CST token. */
    *next(token) {
        switch (token.type) {
            case 'directive':
                this.directives.add(token.source, (offset, message, warning) => {
                    const pos = getErrorPos(token);
                    pos[0] += offset;
                    this.onError(pos, 'BAD_DIRECTIVE', message, warning);
                });
                this.prelude.push(token.source);
                this.atDirectives = true;
                break;
            case 'document': {
                const doc = composeDoc(this.options, this.directives, token, this.onError);
                if (this.atDirectives && !doc.directives.docStart)
                    this.onError(token, 'MISSING_CHAR', 'Missing directives-end/doc-start indicator line');
                this.decorate(doc, false);
                if (this.doc)
                    yield this.doc;
                this.doc = doc;
                this.atDirectives = false;
                break;
            }
            case 'byte-order-mark':
            case 'space':
                break;
            case 'comment':
            case 'newline':
                this.prelude.push(token.source);
                break;
            case 'error': {
                const msg = token.source
                    ? `${token.message}: ${JSON.stringify(token.source)}`
                    : token.message;
                const error = new YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', msg);
                if (this.atDirectives || !this.doc)
                    this.errors.push(error);
                else
                    this.doc.errors.push(error);
                break;
            }
            case 'doc-end': {
                if (!this.doc) {
                    const msg = 'Unexpected doc-end without preceding document';
                    this.errors.push(new YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', msg));
                    break;
                }
                this.doc.directives.docEnd = true;
                const end = resolveEnd(token.end, token.offset + token.source.length, this.doc.options.strict, this.onError);
                this.decorate(this.doc, true);
                if (end.comment) {
                    const dc = this.doc.comment;
                    this.doc.comment = dc ? `${dc}\n${end.comment}` : end.comment;
                }
                this.doc.range[2] = end.offset;
                break;
            }
            default:
                this.errors.push(new YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', `Unsupported token ${token.type}`));
        }
    }
    /**
     * Call at end of input to yield any remaining document.
     *
     * @param forceDoc - If the stream contains no document, still emit a final document including any comments and directives that would be applied to a subsequent document.
     * @param endOffset - Should be set if `forceDoc` is also set, to set the document range end and to indicate errors correctly.
     */
    *end(forceDoc = false, endOffset = -1) {
        if (this.doc) {
            this.decorate(this.doc, true);
            yield this.doc;
            this.doc = null;
        }
        else if (forceDoc) {
            const opts = Object.assign({ _directives: this.directives }, this.options);
            const doc = new Document(undefined, opts);
            if (this.atDirectives)
                this.onError(endOffset, 'MISSING_CHAR', 'Missing directives-end indicator line');
            doc.range = [0, endOffset, endOffset];
            this.decorate(doc, false);
            yield doc;
        }
    }
}

/** The byte order mark */
const BOM = '\u{FEFF}';
/** Start of doc-mode */
const DOCUMENT = '\x02'; // C0: Start of Text
/** Unexpected end of flow-mode */
const FLOW_END = '\x18'; // C0: Cancel
/** Next token is a scalar value */
const SCALAR = '\x1f'; // C0: Unit Separator
/** Identify the type of a lexer token. May return `null` for unknown tokens. */
function tokenType(source) {
    switch (source) {
        case BOM:
            return 'byte-order-mark';
        case DOCUMENT:
            return 'doc-mode';
        case FLOW_END:
            return 'flow-error-end';
        case SCALAR:
            return 'scalar';
        case '---':
            return 'doc-start';
        case '...':
            return 'doc-end';
        case '':
        case '\n':
        case '\r\n':
            return 'newline';
        case '-':
            return 'seq-item-ind';
        case '?':
            return 'explicit-key-ind';
        case ':':
            return 'map-value-ind';
        case '{':
            return 'flow-map-start';
        case '}':
            return 'flow-map-end';
        case '[':
            return 'flow-seq-start';
        case ']':
            return 'flow-seq-end';
        case ',':
            return 'comma';
    }
    switch (source[0]) {
        case ' ':
        case '\t':
            return 'space';
        case '#':
            return 'comment';
        case '%':
            return 'directive-line';
        case '*':
            return 'alias';
        case '&':
            return 'anchor';
        case '!':
            return 'tag';
        case "'":
            return 'single-quoted-scalar';
        case '"':
            return 'double-quoted-scalar';
        case '|':
        case '>':
            return 'block-scalar-header';
    }
    return null;
}

/*
START -> stream

stream
  directive -> line-end -> stream
  indent + line-end -> stream
  [else] -> line-start

line-end
  comment -> line-end
  newline -> .
  input-end -> END

line-start
  doc-start -> doc
  doc-end -> stream
  [else] -> indent -> block-start

block-start
  seq-item-start -> block-start
  explicit-key-start -> block-start
  map-value-start -> block-start
  [else] -> doc

doc
  line-end -> line-start
  spaces -> doc
  anchor -> doc
  tag -> doc
  flow-start -> flow -> doc
  flow-end -> error -> doc
  seq-item-start -> error -> doc
  explicit-key-start -> error -> doc
  map-value-start -> doc
  alias -> doc
  quote-start -> quoted-scalar -> doc
  block-scalar-header -> line-end -> block-scalar(min) -> line-start
  [else] -> plain-scalar(false, min) -> doc

flow
  line-end -> flow
  spaces -> flow
  anchor -> flow
  tag -> flow
  flow-start -> flow -> flow
  flow-end -> .
  seq-item-start -> error -> flow
  explicit-key-start -> flow
  map-value-start -> flow
  alias -> flow
  quote-start -> quoted-scalar -> flow
  comma -> flow
  [else] -> plain-scalar(true, 0) -> flow

quoted-scalar
  quote-end -> .
  [else] -> quoted-scalar

block-scalar(min)
  newline + peek(indent < min) -> .
  [else] -> block-scalar(min)

plain-scalar(is-flow, min)
  scalar-end(is-flow) -> .
  peek(newline + (indent < min)) -> .
  [else] -> plain-scalar(min)
*/
function isEmpty(ch) {
    switch (ch) {
        case undefined:
        case ' ':
        case '\n':
        case '\r':
        case '\t':
            return true;
        default:
            return false;
    }
}
const hexDigits = new Set('0123456789ABCDEFabcdef');
const tagChars = new Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-#;/?:@&=+$_.!~*'()");
const flowIndicatorChars = new Set(',[]{}');
const invalidAnchorChars = new Set(' ,[]{}\n\r\t');
const isNotAnchorChar = (ch) => !ch || invalidAnchorChars.has(ch);
/**
 * Splits an input string into lexical tokens, i.e. smaller strings that are
 * easily identifiable by `tokens.tokenType()`.
 *
 * Lexing starts always in a "stream" context. Incomplete input may be buffered
 * until a complete token can be emitted.
 *
 * In addition to slices of the original input, the following control characters
 * may also be emitted:
 *
 * - `\x02` (Start of Text): A document starts with the next token
 * - `\x18` (Cancel): Unexpected end of flow-mode (indicates an error)
 * - `\x1f` (Unit Separator): Next token is a scalar value
 * - `\u{FEFF}` (Byte order mark): Emitted separately outside documents
 */
class Lexer {
    constructor() {
        /**
         * Flag indicating whether the end of the current buffer marks the end of
         * all input
         */
        this.atEnd = false;
        /**
         * Explicit indent set in block scalar header, as an offset from the current
         * minimum indent, so e.g. set to 1 from a header `|2+`. Set to -1 if not
         * explicitly set.
         */
        this.blockScalarIndent = -1;
        /**
         * Block scalars that include a + (keep) chomping indicator in their header
         * include trailing empty lines, which are otherwise excluded from the
         * scalar's contents.
         */
        this.blockScalarKeep = false;
        /** Current input */
        this.buffer = '';
        /**
         * Flag noting whether the map value indicator : can immediately follow this
         * node within a flow context.
         */
        this.flowKey = false;
        /** Count of surrounding flow collection levels. */
        this.flowLevel = 0;
        /**
         * Minimum level of indentation required for next lines to be parsed as a
         * part of the current scalar value.
         */
        this.indentNext = 0;
        /** Indentation level of the current line. */
        this.indentValue = 0;
        /** Position of the next \n character. */
        this.lineEndPos = null;
        /** Stores the state of the lexer if reaching the end of incpomplete input */
        this.next = null;
        /** A pointer to `buffer`; the current position of the lexer. */
        this.pos = 0;
    }
    /**
     * Generate YAML tokens from the `source` string. If `incomplete`,
     * a part of the last line may be left as a buffer for the next call.
     *
     * @returns A generator of lexical tokens
     */
    *lex(source, incomplete = false) {
        if (source) {
            if (typeof source !== 'string')
                throw TypeError('source is not a string');
            this.buffer = this.buffer ? this.buffer + source : source;
            this.lineEndPos = null;
        }
        this.atEnd = !incomplete;
        let next = this.next ?? 'stream';
        while (next && (incomplete || this.hasChars(1)))
            next = yield* this.parseNext(next);
    }
    atLineEnd() {
        let i = this.pos;
        let ch = this.buffer[i];
        while (ch === ' ' || ch === '\t')
            ch = this.buffer[++i];
        if (!ch || ch === '#' || ch === '\n')
            return true;
        if (ch === '\r')
            return this.buffer[i + 1] === '\n';
        return false;
    }
    charAt(n) {
        return this.buffer[this.pos + n];
    }
    continueScalar(offset) {
        let ch = this.buffer[offset];
        if (this.indentNext > 0) {
            let indent = 0;
            while (ch === ' ')
                ch = this.buffer[++indent + offset];
            if (ch === '\r') {
                const next = this.buffer[indent + offset + 1];
                if (next === '\n' || (!next && !this.atEnd))
                    return offset + indent + 1;
            }
            return ch === '\n' || indent >= this.indentNext || (!ch && !this.atEnd)
                ? offset + indent
                : -1;
        }
        if (ch === '-' || ch === '.') {
            const dt = this.buffer.substr(offset, 3);
            if ((dt === '---' || dt === '...') && isEmpty(this.buffer[offset + 3]))
                return -1;
        }
        return offset;
    }
    getLine() {
        let end = this.lineEndPos;
        if (typeof end !== 'number' || (end !== -1 && end < this.pos)) {
            end = this.buffer.indexOf('\n', this.pos);
            this.lineEndPos = end;
        }
        if (end === -1)
            return this.atEnd ? this.buffer.substring(this.pos) : null;
        if (this.buffer[end - 1] === '\r')
            end -= 1;
        return this.buffer.substring(this.pos, end);
    }
    hasChars(n) {
        return this.pos + n <= this.buffer.length;
    }
    setNext(state) {
        this.buffer = this.buffer.substring(this.pos);
        this.pos = 0;
        this.lineEndPos = null;
        this.next = state;
        return null;
    }
    peek(n) {
        return this.buffer.substr(this.pos, n);
    }
    *parseNext(next) {
        switch (next) {
            case 'stream':
                return yield* this.parseStream();
            case 'line-start':
                return yield* this.parseLineStart();
            case 'block-start':
                return yield* this.parseBlockStart();
            case 'doc':
                return yield* this.parseDocument();
            case 'flow':
                return yield* this.parseFlowCollection();
            case 'quoted-scalar':
                return yield* this.parseQuotedScalar();
            case 'block-scalar':
                return yield* this.parseBlockScalar();
            case 'plain-scalar':
                return yield* this.parsePlainScalar();
        }
    }
    *parseStream() {
        let line = this.getLine();
        if (line === null)
            return this.setNext('stream');
        if (line[0] === BOM) {
            yield* this.pushCount(1);
            line = line.substring(1);
        }
        if (line[0] === '%') {
            let dirEnd = line.length;
            let cs = line.indexOf('#');
            while (cs !== -1) {
                const ch = line[cs - 1];
                if (ch === ' ' || ch === '\t') {
                    dirEnd = cs - 1;
                    break;
                }
                else {
                    cs = line.indexOf('#', cs + 1);
                }
            }
            while (true) {
                const ch = line[dirEnd - 1];
                if (ch === ' ' || ch === '\t')
                    dirEnd -= 1;
                else
                    break;
            }
            const n = (yield* this.pushCount(dirEnd)) + (yield* this.pushSpaces(true));
            yield* this.pushCount(line.length - n); // possible comment
            this.pushNewline();
            return 'stream';
        }
        if (this.atLineEnd()) {
            const sp = yield* this.pushSpaces(true);
            yield* this.pushCount(line.length - sp);
            yield* this.pushNewline();
            return 'stream';
        }
        yield DOCUMENT;
        return yield* this.parseLineStart();
    }
    *parseLineStart() {
        const ch = this.charAt(0);
        if (!ch && !this.atEnd)
            return this.setNext('line-start');
        if (ch === '-' || ch === '.') {
            if (!this.atEnd && !this.hasChars(4))
                return this.setNext('line-start');
            const s = this.peek(3);
            if ((s === '---' || s === '...') && isEmpty(this.charAt(3))) {
                yield* this.pushCount(3);
                this.indentValue = 0;
                this.indentNext = 0;
                return s === '---' ? 'doc' : 'stream';
            }
        }
        this.indentValue = yield* this.pushSpaces(false);
        if (this.indentNext > this.indentValue && !isEmpty(this.charAt(1)))
            this.indentNext = this.indentValue;
        return yield* this.parseBlockStart();
    }
    *parseBlockStart() {
        const [ch0, ch1] = this.peek(2);
        if (!ch1 && !this.atEnd)
            return this.setNext('block-start');
        if ((ch0 === '-' || ch0 === '?' || ch0 === ':') && isEmpty(ch1)) {
            const n = (yield* this.pushCount(1)) + (yield* this.pushSpaces(true));
            this.indentNext = this.indentValue + 1;
            this.indentValue += n;
            return 'block-start';
        }
        return 'doc';
    }
    *parseDocument() {
        yield* this.pushSpaces(true);
        const line = this.getLine();
        if (line === null)
            return this.setNext('doc');
        let n = yield* this.pushIndicators();
        switch (line[n]) {
            case '#':
                yield* this.pushCount(line.length - n);
            // fallthrough
            case undefined:
                yield* this.pushNewline();
                return yield* this.parseLineStart();
            case '{':
            case '[':
                yield* this.pushCount(1);
                this.flowKey = false;
                this.flowLevel = 1;
                return 'flow';
            case '}':
            case ']':
                // this is an error
                yield* this.pushCount(1);
                return 'doc';
            case '*':
                yield* this.pushUntil(isNotAnchorChar);
                return 'doc';
            case '"':
            case "'":
                return yield* this.parseQuotedScalar();
            case '|':
            case '>':
                n += yield* this.parseBlockScalarHeader();
                n += yield* this.pushSpaces(true);
                yield* this.pushCount(line.length - n);
                yield* this.pushNewline();
                return yield* this.parseBlockScalar();
            default:
                return yield* this.parsePlainScalar();
        }
    }
    *parseFlowCollection() {
        let nl, sp;
        let indent = -1;
        do {
            nl = yield* this.pushNewline();
            if (nl > 0) {
                sp = yield* this.pushSpaces(false);
                this.indentValue = indent = sp;
            }
            else {
                sp = 0;
            }
            sp += yield* this.pushSpaces(true);
        } while (nl + sp > 0);
        const line = this.getLine();
        if (line === null)
            return this.setNext('flow');
        if ((indent !== -1 && indent < this.indentNext && line[0] !== '#') ||
            (indent === 0 &&
                (line.startsWith('---') || line.startsWith('...')) &&
                isEmpty(line[3]))) {
            // Allowing for the terminal ] or } at the same (rather than greater)
            // indent level as the initial [ or { is technically invalid, but
            // failing here would be surprising to users.
            const atFlowEndMarker = indent === this.indentNext - 1 &&
                this.flowLevel === 1 &&
                (line[0] === ']' || line[0] === '}');
            if (!atFlowEndMarker) {
                // this is an error
                this.flowLevel = 0;
                yield FLOW_END;
                return yield* this.parseLineStart();
            }
        }
        let n = 0;
        while (line[n] === ',') {
            n += yield* this.pushCount(1);
            n += yield* this.pushSpaces(true);
            this.flowKey = false;
        }
        n += yield* this.pushIndicators();
        switch (line[n]) {
            case undefined:
                return 'flow';
            case '#':
                yield* this.pushCount(line.length - n);
                return 'flow';
            case '{':
            case '[':
                yield* this.pushCount(1);
                this.flowKey = false;
                this.flowLevel += 1;
                return 'flow';
            case '}':
            case ']':
                yield* this.pushCount(1);
                this.flowKey = true;
                this.flowLevel -= 1;
                return this.flowLevel ? 'flow' : 'doc';
            case '*':
                yield* this.pushUntil(isNotAnchorChar);
                return 'flow';
            case '"':
            case "'":
                this.flowKey = true;
                return yield* this.parseQuotedScalar();
            case ':': {
                const next = this.charAt(1);
                if (this.flowKey || isEmpty(next) || next === ',') {
                    this.flowKey = false;
                    yield* this.pushCount(1);
                    yield* this.pushSpaces(true);
                    return 'flow';
                }
            }
            // fallthrough
            default:
                this.flowKey = false;
                return yield* this.parsePlainScalar();
        }
    }
    *parseQuotedScalar() {
        const quote = this.charAt(0);
        let end = this.buffer.indexOf(quote, this.pos + 1);
        if (quote === "'") {
            while (end !== -1 && this.buffer[end + 1] === "'")
                end = this.buffer.indexOf("'", end + 2);
        }
        else {
            // double-quote
            while (end !== -1) {
                let n = 0;
                while (this.buffer[end - 1 - n] === '\\')
                    n += 1;
                if (n % 2 === 0)
                    break;
                end = this.buffer.indexOf('"', end + 1);
            }
        }
        // Only looking for newlines within the quotes
        const qb = this.buffer.substring(0, end);
        let nl = qb.indexOf('\n', this.pos);
        if (nl !== -1) {
            while (nl !== -1) {
                const cs = this.continueScalar(nl + 1);
                if (cs === -1)
                    break;
                nl = qb.indexOf('\n', cs);
            }
            if (nl !== -1) {
                // this is an error caused by an unexpected unindent
                end = nl - (qb[nl - 1] === '\r' ? 2 : 1);
            }
        }
        if (end === -1) {
            if (!this.atEnd)
                return this.setNext('quoted-scalar');
            end = this.buffer.length;
        }
        yield* this.pushToIndex(end + 1, false);
        return this.flowLevel ? 'flow' : 'doc';
    }
    *parseBlockScalarHeader() {
        this.blockScalarIndent = -1;
        this.blockScalarKeep = false;
        let i = this.pos;
        while (true) {
            const ch = this.buffer[++i];
            if (ch === '+')
                this.blockScalarKeep = true;
            else if (ch > '0' && ch <= '9')
                this.blockScalarIndent = Number(ch) - 1;
            else if (ch !== '-')
                break;
        }
        return yield* this.pushUntil(ch => isEmpty(ch) || ch === '#');
    }
    *parseBlockScalar() {
        let nl = this.pos - 1; // may be -1 if this.pos === 0
        let indent = 0;
        let ch;
        loop: for (let i = this.pos; (ch = this.buffer[i]); ++i) {
            switch (ch) {
                case ' ':
                    indent += 1;
                    break;
                case '\n':
                    nl = i;
                    indent = 0;
                    break;
                case '\r': {
                    const next = this.buffer[i + 1];
                    if (!next && !this.atEnd)
                        return this.setNext('block-scalar');
                    if (next === '\n')
                        break;
                } // fallthrough
                default:
                    break loop;
            }
        }
        if (!ch && !this.atEnd)
            return this.setNext('block-scalar');
        if (indent >= this.indentNext) {
            if (this.blockScalarIndent === -1)
                this.indentNext = indent;
            else {
                this.indentNext =
                    this.blockScalarIndent + (this.indentNext === 0 ? 1 : this.indentNext);
            }
            do {
                const cs = this.continueScalar(nl + 1);
                if (cs === -1)
                    break;
                nl = this.buffer.indexOf('\n', cs);
            } while (nl !== -1);
            if (nl === -1) {
                if (!this.atEnd)
                    return this.setNext('block-scalar');
                nl = this.buffer.length;
            }
        }
        // Trailing insufficiently indented tabs are invalid.
        // To catch that during parsing, we include them in the block scalar value.
        let i = nl + 1;
        ch = this.buffer[i];
        while (ch === ' ')
            ch = this.buffer[++i];
        if (ch === '\t') {
            while (ch === '\t' || ch === ' ' || ch === '\r' || ch === '\n')
                ch = this.buffer[++i];
            nl = i - 1;
        }
        else if (!this.blockScalarKeep) {
            do {
                let i = nl - 1;
                let ch = this.buffer[i];
                if (ch === '\r')
                    ch = this.buffer[--i];
                const lastChar = i; // Drop the line if last char not more indented
                while (ch === ' ')
                    ch = this.buffer[--i];
                if (ch === '\n' && i >= this.pos && i + 1 + indent > lastChar)
                    nl = i;
                else
                    break;
            } while (true);
        }
        yield SCALAR;
        yield* this.pushToIndex(nl + 1, true);
        return yield* this.parseLineStart();
    }
    *parsePlainScalar() {
        const inFlow = this.flowLevel > 0;
        let end = this.pos - 1;
        let i = this.pos - 1;
        let ch;
        while ((ch = this.buffer[++i])) {
            if (ch === ':') {
                const next = this.buffer[i + 1];
                if (isEmpty(next) || (inFlow && flowIndicatorChars.has(next)))
                    break;
                end = i;
            }
            else if (isEmpty(ch)) {
                let next = this.buffer[i + 1];
                if (ch === '\r') {
                    if (next === '\n') {
                        i += 1;
                        ch = '\n';
                        next = this.buffer[i + 1];
                    }
                    else
                        end = i;
                }
                if (next === '#' || (inFlow && flowIndicatorChars.has(next)))
                    break;
                if (ch === '\n') {
                    const cs = this.continueScalar(i + 1);
                    if (cs === -1)
                        break;
                    i = Math.max(i, cs - 2); // to advance, but still account for ' #'
                }
            }
            else {
                if (inFlow && flowIndicatorChars.has(ch))
                    break;
                end = i;
            }
        }
        if (!ch && !this.atEnd)
            return this.setNext('plain-scalar');
        yield SCALAR;
        yield* this.pushToIndex(end + 1, true);
        return inFlow ? 'flow' : 'doc';
    }
    *pushCount(n) {
        if (n > 0) {
            yield this.buffer.substr(this.pos, n);
            this.pos += n;
            return n;
        }
        return 0;
    }
    *pushToIndex(i, allowEmpty) {
        const s = this.buffer.slice(this.pos, i);
        if (s) {
            yield s;
            this.pos += s.length;
            return s.length;
        }
        else if (allowEmpty)
            yield '';
        return 0;
    }
    *pushIndicators() {
        let n = 0;
        loop: while (true) {
            switch (this.charAt(0)) {
                case '!':
                    n += yield* this.pushTag();
                    n += yield* this.pushSpaces(true);
                    continue loop;
                case '&':
                    n += yield* this.pushUntil(isNotAnchorChar);
                    n += yield* this.pushSpaces(true);
                    continue loop;
                case '-': // this is an error
                case '?': // this is an error outside flow collections
                case ':': {
                    const inFlow = this.flowLevel > 0;
                    const ch1 = this.charAt(1);
                    if (isEmpty(ch1) || (inFlow && flowIndicatorChars.has(ch1))) {
                        if (!inFlow)
                            this.indentNext = this.indentValue + 1;
                        else if (this.flowKey)
                            this.flowKey = false;
                        n += yield* this.pushCount(1);
                        n += yield* this.pushSpaces(true);
                        continue loop;
                    }
                }
            }
            break loop;
        }
        return n;
    }
    *pushTag() {
        if (this.charAt(1) === '<') {
            let i = this.pos + 2;
            let ch = this.buffer[i];
            while (!isEmpty(ch) && ch !== '>')
                ch = this.buffer[++i];
            return yield* this.pushToIndex(ch === '>' ? i + 1 : i, false);
        }
        else {
            let i = this.pos + 1;
            let ch = this.buffer[i];
            while (ch) {
                if (tagChars.has(ch))
                    ch = this.buffer[++i];
                else if (ch === '%' &&
                    hexDigits.has(this.buffer[i + 1]) &&
                    hexDigits.has(this.buffer[i + 2])) {
                    ch = this.buffer[(i += 3)];
                }
                else
                    break;
            }
            return yield* this.pushToIndex(i, false);
        }
    }
    *pushNewline() {
        const ch = this.buffer[this.pos];
        if (ch === '\n')
            return yield* this.pushCount(1);
        else if (ch === '\r' && this.charAt(1) === '\n')
            return yield* this.pushCount(2);
        else
            return 0;
    }
    *pushSpaces(allowTabs) {
        let i = this.pos - 1;
        let ch;
        do {
            ch = this.buffer[++i];
        } while (ch === ' ' || (allowTabs && ch === '\t'));
        const n = i - this.pos;
        if (n > 0) {
            yield this.buffer.substr(this.pos, n);
            this.pos = i;
        }
        return n;
    }
    *pushUntil(test) {
        let i = this.pos;
        let ch = this.buffer[i];
        while (!test(ch))
            ch = this.buffer[++i];
        return yield* this.pushToIndex(i, false);
    }
}

/**
 * Tracks newlines during parsing in order to provide an efficient API for
 * determining the one-indexed `{ line, col }` position for any offset
 * within the input.
 */
class LineCounter {
    constructor() {
        this.lineStarts = [];
        /**
         * Should be called in ascending order. Otherwise, call
         * `lineCounter.lineStarts.sort()` before calling `linePos()`.
         */
        this.addNewLine = (offset) => this.lineStarts.push(offset);
        /**
         * Performs a binary search and returns the 1-indexed { line, col }
         * position of `offset`. If `line === 0`, `addNewLine` has never been
         * called or `offset` is before the first known newline.
         */
        this.linePos = (offset) => {
            let low = 0;
            let high = this.lineStarts.length;
            while (low < high) {
                const mid = (low + high) >> 1; // Math.floor((low + high) / 2)
                if (this.lineStarts[mid] < offset)
                    low = mid + 1;
                else
                    high = mid;
            }
            if (this.lineStarts[low] === offset)
                return { line: low + 1, col: 1 };
            if (low === 0)
                return { line: 0, col: offset };
            const start = this.lineStarts[low - 1];
            return { line: low, col: offset - start + 1 };
        };
    }
}

function includesToken(list, type) {
    for (let i = 0; i < list.length; ++i)
        if (list[i].type === type)
            return true;
    return false;
}
function findNonEmptyIndex(list) {
    for (let i = 0; i < list.length; ++i) {
        switch (list[i].type) {
            case 'space':
            case 'comment':
            case 'newline':
                break;
            default:
                return i;
        }
    }
    return -1;
}
function isFlowToken(token) {
    switch (token?.type) {
        case 'alias':
        case 'scalar':
        case 'single-quoted-scalar':
        case 'double-quoted-scalar':
        case 'flow-collection':
            return true;
        default:
            return false;
    }
}
function getPrevProps(parent) {
    switch (parent.type) {
        case 'document':
            return parent.start;
        case 'block-map': {
            const it = parent.items[parent.items.length - 1];
            return it.sep ?? it.start;
        }
        case 'block-seq':
            return parent.items[parent.items.length - 1].start;
        /* istanbul ignore next should not happen */
        default:
            return [];
    }
}
/** Note: May modify input array */
function getFirstKeyStartProps(prev) {
    if (prev.length === 0)
        return [];
    let i = prev.length;
    loop: while (--i >= 0) {
        switch (prev[i].type) {
            case 'doc-start':
            case 'explicit-key-ind':
            case 'map-value-ind':
            case 'seq-item-ind':
            case 'newline':
                break loop;
        }
    }
    while (prev[++i]?.type === 'space') {
        /* loop */
    }
    return prev.splice(i, prev.length);
}
function arrayPushArray(target, source) {
    // May exhaust call stack with large `source` array
    if (source.length < 1e5)
        Array.prototype.push.apply(target, source);
    else
        for (let i = 0; i < source.length; ++i)
            target.push(source[i]);
}
function fixFlowSeqItems(fc) {
    if (fc.start.type === 'flow-seq-start') {
        for (const it of fc.items) {
            if (it.sep &&
                !it.value &&
                !includesToken(it.start, 'explicit-key-ind') &&
                !includesToken(it.sep, 'map-value-ind')) {
                if (it.key)
                    it.value = it.key;
                delete it.key;
                if (isFlowToken(it.value)) {
                    if (it.value.end)
                        arrayPushArray(it.value.end, it.sep);
                    else
                        it.value.end = it.sep;
                }
                else
                    arrayPushArray(it.start, it.sep);
                delete it.sep;
            }
        }
    }
}
/**
 * A YAML concrete syntax tree (CST) parser
 *
 * ```ts
 * const src: string = ...
 * for (const token of new Parser().parse(src)) {
 *   // token: Token
 * }
 * ```
 *
 * To use the parser with a user-provided lexer:
 *
 * ```ts
 * function* parse(source: string, lexer: Lexer) {
 *   const parser = new Parser()
 *   for (const lexeme of lexer.lex(source))
 *     yield* parser.next(lexeme)
 *   yield* parser.end()
 * }
 *
 * const src: string = ...
 * const lexer = new Lexer()
 * for (const token of parse(src, lexer)) {
 *   // token: Token
 * }
 * ```
 */
class Parser {
    /**
     * @param onNewLine - If defined, called separately with the start position of
     *   each new line (in `parse()`, including the start of input).
     */
    constructor(onNewLine) {
        /** If true, space and sequence indicators count as indentation */
        this.atNewLine = true;
        /** If true, next token is a scalar value */
        this.atScalar = false;
        /** Current indentation level */
        this.indent = 0;
        /** Current offset since the start of parsing */
        this.offset = 0;
        /** On the same line with a block map key */
        this.onKeyLine = false;
        /** Top indicates the node that's currently being built */
        this.stack = [];
        /** The source of the current token, set in parse() */
        this.source = '';
        /** The type of the current token, set in parse() */
        this.type = '';
        // Must be defined after `next()`
        this.lexer = new Lexer();
        this.onNewLine = onNewLine;
    }
    /**
     * Parse `source` as a YAML stream.
     * If `incomplete`, a part of the last line may be left as a buffer for the next call.
     *
     * Errors are not thrown, but yielded as `{ type: 'error', message }` tokens.
     *
     * @returns A generator of tokens representing each directive, document, and other structure.
     */
    *parse(source, incomplete = false) {
        if (this.onNewLine && this.offset === 0)
            this.onNewLine(0);
        for (const lexeme of this.lexer.lex(source, incomplete))
            yield* this.next(lexeme);
        if (!incomplete)
            yield* this.end();
    }
    /**
     * Advance the parser by the `source` of one lexical token.
     */
    *next(source) {
        this.source = source;
        if (this.atScalar) {
            this.atScalar = false;
            yield* this.step();
            this.offset += source.length;
            return;
        }
        const type = tokenType(source);
        if (!type) {
            const message = `Not a YAML token: ${source}`;
            yield* this.pop({ type: 'error', offset: this.offset, message, source });
            this.offset += source.length;
        }
        else if (type === 'scalar') {
            this.atNewLine = false;
            this.atScalar = true;
            this.type = 'scalar';
        }
        else {
            this.type = type;
            yield* this.step();
            switch (type) {
                case 'newline':
                    this.atNewLine = true;
                    this.indent = 0;
                    if (this.onNewLine)
                        this.onNewLine(this.offset + source.length);
                    break;
                case 'space':
                    if (this.atNewLine && source[0] === ' ')
                        this.indent += source.length;
                    break;
                case 'explicit-key-ind':
                case 'map-value-ind':
                case 'seq-item-ind':
                    if (this.atNewLine)
                        this.indent += source.length;
                    break;
                case 'doc-mode':
                case 'flow-error-end':
                    return;
                default:
                    this.atNewLine = false;
            }
            this.offset += source.length;
        }
    }
    /** Call at end of input to push out any remaining constructions */
    *end() {
        while (this.stack.length > 0)
            yield* this.pop();
    }
    get sourceToken() {
        const st = {
            type: this.type,
            offset: this.offset,
            indent: this.indent,
            source: this.source
        };
        return st;
    }
    *step() {
        const top = this.peek(1);
        if (this.type === 'doc-end' && top?.type !== 'doc-end') {
            while (this.stack.length > 0)
                yield* this.pop();
            this.stack.push({
                type: 'doc-end',
                offset: this.offset,
                source: this.source
            });
            return;
        }
        if (!top)
            return yield* this.stream();
        switch (top.type) {
            case 'document':
                return yield* this.document(top);
            case 'alias':
            case 'scalar':
            case 'single-quoted-scalar':
            case 'double-quoted-scalar':
                return yield* this.scalar(top);
            case 'block-scalar':
                return yield* this.blockScalar(top);
            case 'block-map':
                return yield* this.blockMap(top);
            case 'block-seq':
                return yield* this.blockSequence(top);
            case 'flow-collection':
                return yield* this.flowCollection(top);
            case 'doc-end':
                return yield* this.documentEnd(top);
        }
        /* istanbul ignore next should not happen */
        yield* this.pop();
    }
    peek(n) {
        return this.stack[this.stack.length - n];
    }
    *pop(error) {
        const token = error ?? this.stack.pop();
        /* istanbul ignore if should not happen */
        if (!token) {
            const message = 'Tried to pop an empty stack';
            yield { type: 'error', offset: this.offset, source: '', message };
        }
        else if (this.stack.length === 0) {
            yield token;
        }
        else {
            const top = this.peek(1);
            if (token.type === 'block-scalar') {
                // Block scalars use their parent rather than header indent
                token.indent = 'indent' in top ? top.indent : 0;
            }
            else if (token.type === 'flow-collection' && top.type === 'document') {
                // Ignore all indent for top-level flow collections
                token.indent = 0;
            }
            if (token.type === 'flow-collection')
                fixFlowSeqItems(token);
            switch (top.type) {
                case 'document':
                    top.value = token;
                    break;
                case 'block-scalar':
                    top.props.push(token); // error
                    break;
                case 'block-map': {
                    const it = top.items[top.items.length - 1];
                    if (it.value) {
                        top.items.push({ start: [], key: token, sep: [] });
                        this.onKeyLine = true;
                        return;
                    }
                    else if (it.sep) {
                        it.value = token;
                    }
                    else {
                        Object.assign(it, { key: token, sep: [] });
                        this.onKeyLine = !it.explicitKey;
                        return;
                    }
                    break;
                }
                case 'block-seq': {
                    const it = top.items[top.items.length - 1];
                    if (it.value)
                        top.items.push({ start: [], value: token });
                    else
                        it.value = token;
                    break;
                }
                case 'flow-collection': {
                    const it = top.items[top.items.length - 1];
                    if (!it || it.value)
                        top.items.push({ start: [], key: token, sep: [] });
                    else if (it.sep)
                        it.value = token;
                    else
                        Object.assign(it, { key: token, sep: [] });
                    return;
                }
                /* istanbul ignore next should not happen */
                default:
                    yield* this.pop();
                    yield* this.pop(token);
            }
            if ((top.type === 'document' ||
                top.type === 'block-map' ||
                top.type === 'block-seq') &&
                (token.type === 'block-map' || token.type === 'block-seq')) {
                const last = token.items[token.items.length - 1];
                if (last &&
                    !last.sep &&
                    !last.value &&
                    last.start.length > 0 &&
                    findNonEmptyIndex(last.start) === -1 &&
                    (token.indent === 0 ||
                        last.start.every(st => st.type !== 'comment' || st.indent < token.indent))) {
                    if (top.type === 'document')
                        top.end = last.start;
                    else
                        top.items.push({ start: last.start });
                    token.items.splice(-1, 1);
                }
            }
        }
    }
    *stream() {
        switch (this.type) {
            case 'directive-line':
                yield { type: 'directive', offset: this.offset, source: this.source };
                return;
            case 'byte-order-mark':
            case 'space':
            case 'comment':
            case 'newline':
                yield this.sourceToken;
                return;
            case 'doc-mode':
            case 'doc-start': {
                const doc = {
                    type: 'document',
                    offset: this.offset,
                    start: []
                };
                if (this.type === 'doc-start')
                    doc.start.push(this.sourceToken);
                this.stack.push(doc);
                return;
            }
        }
        yield {
            type: 'error',
            offset: this.offset,
            message: `Unexpected ${this.type} token in YAML stream`,
            source: this.source
        };
    }
    *document(doc) {
        if (doc.value)
            return yield* this.lineEnd(doc);
        switch (this.type) {
            case 'doc-start': {
                if (findNonEmptyIndex(doc.start) !== -1) {
                    yield* this.pop();
                    yield* this.step();
                }
                else
                    doc.start.push(this.sourceToken);
                return;
            }
            case 'anchor':
            case 'tag':
            case 'space':
            case 'comment':
            case 'newline':
                doc.start.push(this.sourceToken);
                return;
        }
        const bv = this.startBlockValue(doc);
        if (bv)
            this.stack.push(bv);
        else {
            yield {
                type: 'error',
                offset: this.offset,
                message: `Unexpected ${this.type} token in YAML document`,
                source: this.source
            };
        }
    }
    *scalar(scalar) {
        if (this.type === 'map-value-ind') {
            const prev = getPrevProps(this.peek(2));
            const start = getFirstKeyStartProps(prev);
            let sep;
            if (scalar.end) {
                sep = scalar.end;
                sep.push(this.sourceToken);
                delete scalar.end;
            }
            else
                sep = [this.sourceToken];
            const map = {
                type: 'block-map',
                offset: scalar.offset,
                indent: scalar.indent,
                items: [{ start, key: scalar, sep }]
            };
            this.onKeyLine = true;
            this.stack[this.stack.length - 1] = map;
        }
        else
            yield* this.lineEnd(scalar);
    }
    *blockScalar(scalar) {
        switch (this.type) {
            case 'space':
            case 'comment':
            case 'newline':
                scalar.props.push(this.sourceToken);
                return;
            case 'scalar':
                scalar.source = this.source;
                // block-scalar source includes trailing newline
                this.atNewLine = true;
                this.indent = 0;
                if (this.onNewLine) {
                    let nl = this.source.indexOf('\n') + 1;
                    while (nl !== 0) {
                        this.onNewLine(this.offset + nl);
                        nl = this.source.indexOf('\n', nl) + 1;
                    }
                }
                yield* this.pop();
                break;
            /* istanbul ignore next should not happen */
            default:
                yield* this.pop();
                yield* this.step();
        }
    }
    *blockMap(map) {
        const it = map.items[map.items.length - 1];
        // it.sep is true-ish if pair already has key or : separator
        switch (this.type) {
            case 'newline':
                this.onKeyLine = false;
                if (it.value) {
                    const end = 'end' in it.value ? it.value.end : undefined;
                    const last = Array.isArray(end) ? end[end.length - 1] : undefined;
                    if (last?.type === 'comment')
                        end?.push(this.sourceToken);
                    else
                        map.items.push({ start: [this.sourceToken] });
                }
                else if (it.sep) {
                    it.sep.push(this.sourceToken);
                }
                else {
                    it.start.push(this.sourceToken);
                }
                return;
            case 'space':
            case 'comment':
                if (it.value) {
                    map.items.push({ start: [this.sourceToken] });
                }
                else if (it.sep) {
                    it.sep.push(this.sourceToken);
                }
                else {
                    if (this.atIndentedComment(it.start, map.indent)) {
                        const prev = map.items[map.items.length - 2];
                        const end = prev?.value?.end;
                        if (Array.isArray(end)) {
                            arrayPushArray(end, it.start);
                            end.push(this.sourceToken);
                            map.items.pop();
                            return;
                        }
                    }
                    it.start.push(this.sourceToken);
                }
                return;
        }
        if (this.indent >= map.indent) {
            const atMapIndent = !this.onKeyLine && this.indent === map.indent;
            const atNextItem = atMapIndent &&
                (it.sep || it.explicitKey) &&
                this.type !== 'seq-item-ind';
            // For empty nodes, assign newline-separated not indented empty tokens to following node
            let start = [];
            if (atNextItem && it.sep && !it.value) {
                const nl = [];
                for (let i = 0; i < it.sep.length; ++i) {
                    const st = it.sep[i];
                    switch (st.type) {
                        case 'newline':
                            nl.push(i);
                            break;
                        case 'space':
                            break;
                        case 'comment':
                            if (st.indent > map.indent)
                                nl.length = 0;
                            break;
                        default:
                            nl.length = 0;
                    }
                }
                if (nl.length >= 2)
                    start = it.sep.splice(nl[1]);
            }
            switch (this.type) {
                case 'anchor':
                case 'tag':
                    if (atNextItem || it.value) {
                        start.push(this.sourceToken);
                        map.items.push({ start });
                        this.onKeyLine = true;
                    }
                    else if (it.sep) {
                        it.sep.push(this.sourceToken);
                    }
                    else {
                        it.start.push(this.sourceToken);
                    }
                    return;
                case 'explicit-key-ind':
                    if (!it.sep && !it.explicitKey) {
                        it.start.push(this.sourceToken);
                        it.explicitKey = true;
                    }
                    else if (atNextItem || it.value) {
                        start.push(this.sourceToken);
                        map.items.push({ start, explicitKey: true });
                    }
                    else {
                        this.stack.push({
                            type: 'block-map',
                            offset: this.offset,
                            indent: this.indent,
                            items: [{ start: [this.sourceToken], explicitKey: true }]
                        });
                    }
                    this.onKeyLine = true;
                    return;
                case 'map-value-ind':
                    if (it.explicitKey) {
                        if (!it.sep) {
                            if (includesToken(it.start, 'newline')) {
                                Object.assign(it, { key: null, sep: [this.sourceToken] });
                            }
                            else {
                                const start = getFirstKeyStartProps(it.start);
                                this.stack.push({
                                    type: 'block-map',
                                    offset: this.offset,
                                    indent: this.indent,
                                    items: [{ start, key: null, sep: [this.sourceToken] }]
                                });
                            }
                        }
                        else if (it.value) {
                            map.items.push({ start: [], key: null, sep: [this.sourceToken] });
                        }
                        else if (includesToken(it.sep, 'map-value-ind')) {
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start, key: null, sep: [this.sourceToken] }]
                            });
                        }
                        else if (isFlowToken(it.key) &&
                            !includesToken(it.sep, 'newline')) {
                            const start = getFirstKeyStartProps(it.start);
                            const key = it.key;
                            const sep = it.sep;
                            sep.push(this.sourceToken);
                            // @ts-expect-error type guard is wrong here
                            delete it.key;
                            // @ts-expect-error type guard is wrong here
                            delete it.sep;
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start, key, sep }]
                            });
                        }
                        else if (start.length > 0) {
                            // Not actually at next item
                            it.sep = it.sep.concat(start, this.sourceToken);
                        }
                        else {
                            it.sep.push(this.sourceToken);
                        }
                    }
                    else {
                        if (!it.sep) {
                            Object.assign(it, { key: null, sep: [this.sourceToken] });
                        }
                        else if (it.value || atNextItem) {
                            map.items.push({ start, key: null, sep: [this.sourceToken] });
                        }
                        else if (includesToken(it.sep, 'map-value-ind')) {
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start: [], key: null, sep: [this.sourceToken] }]
                            });
                        }
                        else {
                            it.sep.push(this.sourceToken);
                        }
                    }
                    this.onKeyLine = true;
                    return;
                case 'alias':
                case 'scalar':
                case 'single-quoted-scalar':
                case 'double-quoted-scalar': {
                    const fs = this.flowScalar(this.type);
                    if (atNextItem || it.value) {
                        map.items.push({ start, key: fs, sep: [] });
                        this.onKeyLine = true;
                    }
                    else if (it.sep) {
                        this.stack.push(fs);
                    }
                    else {
                        Object.assign(it, { key: fs, sep: [] });
                        this.onKeyLine = true;
                    }
                    return;
                }
                default: {
                    const bv = this.startBlockValue(map);
                    if (bv) {
                        if (bv.type === 'block-seq') {
                            if (!it.explicitKey &&
                                it.sep &&
                                !includesToken(it.sep, 'newline')) {
                                yield* this.pop({
                                    type: 'error',
                                    offset: this.offset,
                                    message: 'Unexpected block-seq-ind on same line with key',
                                    source: this.source
                                });
                                return;
                            }
                        }
                        else if (atMapIndent) {
                            map.items.push({ start });
                        }
                        this.stack.push(bv);
                        return;
                    }
                }
            }
        }
        yield* this.pop();
        yield* this.step();
    }
    *blockSequence(seq) {
        const it = seq.items[seq.items.length - 1];
        switch (this.type) {
            case 'newline':
                if (it.value) {
                    const end = 'end' in it.value ? it.value.end : undefined;
                    const last = Array.isArray(end) ? end[end.length - 1] : undefined;
                    if (last?.type === 'comment')
                        end?.push(this.sourceToken);
                    else
                        seq.items.push({ start: [this.sourceToken] });
                }
                else
                    it.start.push(this.sourceToken);
                return;
            case 'space':
            case 'comment':
                if (it.value)
                    seq.items.push({ start: [this.sourceToken] });
                else {
                    if (this.atIndentedComment(it.start, seq.indent)) {
                        const prev = seq.items[seq.items.length - 2];
                        const end = prev?.value?.end;
                        if (Array.isArray(end)) {
                            arrayPushArray(end, it.start);
                            end.push(this.sourceToken);
                            seq.items.pop();
                            return;
                        }
                    }
                    it.start.push(this.sourceToken);
                }
                return;
            case 'anchor':
            case 'tag':
                if (it.value || this.indent <= seq.indent)
                    break;
                it.start.push(this.sourceToken);
                return;
            case 'seq-item-ind':
                if (this.indent !== seq.indent)
                    break;
                if (it.value || includesToken(it.start, 'seq-item-ind'))
                    seq.items.push({ start: [this.sourceToken] });
                else
                    it.start.push(this.sourceToken);
                return;
        }
        if (this.indent > seq.indent) {
            const bv = this.startBlockValue(seq);
            if (bv) {
                this.stack.push(bv);
                return;
            }
        }
        yield* this.pop();
        yield* this.step();
    }
    *flowCollection(fc) {
        const it = fc.items[fc.items.length - 1];
        if (this.type === 'flow-error-end') {
            let top;
            do {
                yield* this.pop();
                top = this.peek(1);
            } while (top?.type === 'flow-collection');
        }
        else if (fc.end.length === 0) {
            switch (this.type) {
                case 'comma':
                case 'explicit-key-ind':
                    if (!it || it.sep)
                        fc.items.push({ start: [this.sourceToken] });
                    else
                        it.start.push(this.sourceToken);
                    return;
                case 'map-value-ind':
                    if (!it || it.value)
                        fc.items.push({ start: [], key: null, sep: [this.sourceToken] });
                    else if (it.sep)
                        it.sep.push(this.sourceToken);
                    else
                        Object.assign(it, { key: null, sep: [this.sourceToken] });
                    return;
                case 'space':
                case 'comment':
                case 'newline':
                case 'anchor':
                case 'tag':
                    if (!it || it.value)
                        fc.items.push({ start: [this.sourceToken] });
                    else if (it.sep)
                        it.sep.push(this.sourceToken);
                    else
                        it.start.push(this.sourceToken);
                    return;
                case 'alias':
                case 'scalar':
                case 'single-quoted-scalar':
                case 'double-quoted-scalar': {
                    const fs = this.flowScalar(this.type);
                    if (!it || it.value)
                        fc.items.push({ start: [], key: fs, sep: [] });
                    else if (it.sep)
                        this.stack.push(fs);
                    else
                        Object.assign(it, { key: fs, sep: [] });
                    return;
                }
                case 'flow-map-end':
                case 'flow-seq-end':
                    fc.end.push(this.sourceToken);
                    return;
            }
            const bv = this.startBlockValue(fc);
            /* istanbul ignore else should not happen */
            if (bv)
                this.stack.push(bv);
            else {
                yield* this.pop();
                yield* this.step();
            }
        }
        else {
            const parent = this.peek(2);
            if (parent.type === 'block-map' &&
                ((this.type === 'map-value-ind' && parent.indent === fc.indent) ||
                    (this.type === 'newline' &&
                        !parent.items[parent.items.length - 1].sep))) {
                yield* this.pop();
                yield* this.step();
            }
            else if (this.type === 'map-value-ind' &&
                parent.type !== 'flow-collection') {
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                fixFlowSeqItems(fc);
                const sep = fc.end.splice(1, fc.end.length);
                sep.push(this.sourceToken);
                const map = {
                    type: 'block-map',
                    offset: fc.offset,
                    indent: fc.indent,
                    items: [{ start, key: fc, sep }]
                };
                this.onKeyLine = true;
                this.stack[this.stack.length - 1] = map;
            }
            else {
                yield* this.lineEnd(fc);
            }
        }
    }
    flowScalar(type) {
        if (this.onNewLine) {
            let nl = this.source.indexOf('\n') + 1;
            while (nl !== 0) {
                this.onNewLine(this.offset + nl);
                nl = this.source.indexOf('\n', nl) + 1;
            }
        }
        return {
            type,
            offset: this.offset,
            indent: this.indent,
            source: this.source
        };
    }
    startBlockValue(parent) {
        switch (this.type) {
            case 'alias':
            case 'scalar':
            case 'single-quoted-scalar':
            case 'double-quoted-scalar':
                return this.flowScalar(this.type);
            case 'block-scalar-header':
                return {
                    type: 'block-scalar',
                    offset: this.offset,
                    indent: this.indent,
                    props: [this.sourceToken],
                    source: ''
                };
            case 'flow-map-start':
            case 'flow-seq-start':
                return {
                    type: 'flow-collection',
                    offset: this.offset,
                    indent: this.indent,
                    start: this.sourceToken,
                    items: [],
                    end: []
                };
            case 'seq-item-ind':
                return {
                    type: 'block-seq',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start: [this.sourceToken] }]
                };
            case 'explicit-key-ind': {
                this.onKeyLine = true;
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                start.push(this.sourceToken);
                return {
                    type: 'block-map',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start, explicitKey: true }]
                };
            }
            case 'map-value-ind': {
                this.onKeyLine = true;
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                return {
                    type: 'block-map',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start, key: null, sep: [this.sourceToken] }]
                };
            }
        }
        return null;
    }
    atIndentedComment(start, indent) {
        if (this.type !== 'comment')
            return false;
        if (this.indent <= indent)
            return false;
        return start.every(st => st.type === 'newline' || st.type === 'space');
    }
    *documentEnd(docEnd) {
        if (this.type !== 'doc-mode') {
            if (docEnd.end)
                docEnd.end.push(this.sourceToken);
            else
                docEnd.end = [this.sourceToken];
            if (this.type === 'newline')
                yield* this.pop();
        }
    }
    *lineEnd(token) {
        switch (this.type) {
            case 'comma':
            case 'doc-start':
            case 'doc-end':
            case 'flow-seq-end':
            case 'flow-map-end':
            case 'map-value-ind':
                yield* this.pop();
                yield* this.step();
                break;
            case 'newline':
                this.onKeyLine = false;
            // fallthrough
            case 'space':
            case 'comment':
            default:
                // all other values are errors
                if (token.end)
                    token.end.push(this.sourceToken);
                else
                    token.end = [this.sourceToken];
                if (this.type === 'newline')
                    yield* this.pop();
        }
    }
}

function parseOptions(options) {
    const prettyErrors = options.prettyErrors !== false;
    const lineCounter = options.lineCounter || (prettyErrors && new LineCounter()) || null;
    return { lineCounter, prettyErrors };
}
/** Parse an input string into a single YAML.Document */
function parseDocument(source, options = {}) {
    const { lineCounter, prettyErrors } = parseOptions(options);
    const parser = new Parser(lineCounter?.addNewLine);
    const composer = new Composer(options);
    // `doc` is always set by compose.end(true) at the very latest
    let doc = null;
    for (const _doc of composer.compose(parser.parse(source), true, source.length)) {
        if (!doc)
            doc = _doc;
        else if (doc.options.logLevel !== 'silent') {
            doc.errors.push(new YAMLParseError(_doc.range.slice(0, 2), 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
            break;
        }
    }
    if (prettyErrors && lineCounter) {
        doc.errors.forEach(prettifyError(source, lineCounter));
        doc.warnings.forEach(prettifyError(source, lineCounter));
    }
    return doc;
}

/**
 * Errors the user can act on. Each carries one sentence: what is wrong, with which value,
 * and what to do. The CLI and the actions print `message` and exit non-zero.
 */
class SitecycleError extends Error {
    kind;
    constructor(message, 
    /** A short machine-readable kind: config, input, lock, release, deploy, host. */
    kind = 'input') {
        super(message);
        this.kind = kind;
        this.name = 'SitecycleError';
    }
}
/** A problem in sitecycle.yml or another input file, naming file and line. */
class ConfigError extends SitecycleError {
    file;
    line;
    constructor(message, file, line) {
        super(message, 'config');
        this.file = file;
        this.line = line;
        this.name = 'ConfigError';
    }
}

function getEnumValues(entries) {
    const numericValues = Object.values(entries).filter((v) => typeof v === "number");
    const values = Object.entries(entries)
        .filter(([k, _]) => numericValues.indexOf(+k) === -1)
        .map(([_, v]) => v);
    return values;
}
function joinValues(array, separator = "|") {
    return array.map((val) => stringifyPrimitive(val)).join(separator);
}
function jsonStringifyReplacer(_, value) {
    if (typeof value === "bigint")
        return value.toString();
    return value;
}
// the accessor lives on a shared prototype: an own accessor makes every box a dictionary-mode object (~360 B and a slow load per read against ~100 B and an inlined getter here)
class Cached {
    constructor(getter) {
        this._getter = getter;
        this._value = undefined;
    }
    get value() {
        const getter = this._getter;
        if (getter !== undefined) {
            this._value = getter();
            this._getter = undefined;
        }
        return this._value;
    }
}
function cached(getter) {
    return new Cached(getter);
}
function nullish(input) {
    return input === null || input === undefined;
}
function cleanRegex(source) {
    const start = source.startsWith("^") ? 1 : 0;
    const end = source.endsWith("$") ? source.length - 1 : source.length;
    return source.slice(start, end);
}
function floatSafeRemainder(val, step) {
    const ratio = val / step;
    const roundedRatio = Math.round(ratio);
    // `val` and `step` each round to a double before the division rounds again, so a true decimal multiple's quotient can sit up to 1.5 of these scaled epsilons from the integer. A 1x tolerance therefore rejected 2.03 as a multiple of 0.07; 4x covers the worst case with margin.
    const tolerance = 4 * Number.EPSILON * Math.max(Math.abs(ratio), 1);
    if (Math.abs(ratio - roundedRatio) < tolerance)
        return 0;
    return ratio - roundedRatio;
}
function assignProp(target, prop, value) {
    Object.defineProperty(target, prop, {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
    });
}
/**
 * Whichever object a def's `shape` currently answers from: the one the caller passed until the first read, the frozen copy after it.
 *
 * Its keys and descriptors read without invoking anything, which is what lets a discriminated union check its discriminator, and the cycle walk read a shape, without resolving a getter that references the schema being constructed. A def that answers `shape` from an accessor of its own has none.
 */
function rawShape(def) {
    const desc = Object.getOwnPropertyDescriptor(def, "shape");
    return desc?.get ? desc.get.raw : desc?.value;
}
// where a builder reads its source's keys and descriptors, resolving only a shape a def answers for itself. A shape resolves by object spread, so only its enumerable keys are ever part of it.
function sourceShape(schema) {
    return rawShape(schema._zod.def) ?? schema._zod.def.shape;
}
// a key whose value is not settled yet, self-caching so every read after the first gets the same one
function deferProp(target, key, getter) {
    Object.defineProperty(target, key, {
        get() {
            const value = getter();
            assignProp(this, key, value);
            return value;
        },
        enumerable: true,
        configurable: true,
    });
}
// Writes a settled key. A plain assignment is much cheaper than `defineProperty` and produces the same descriptor, but it runs whatever setter already answers to the key — an accessor this shape deferred, or an inherited one, which `__proto__` has on every object and prototype pollution can add for any name.
function putProp(target, key, value) {
    if (key in target)
        assignProp(target, key, value);
    else
        target[key] = value;
}
/**
 * Copies `keys` of `source`'s shape onto `target`, each value passed through `wrap`.
 *
 * A key the source has resolved is copied through now, so the derived shape states it outright and nothing has to resolve it to learn what it holds. A key the source still defers stays deferred, and reads back through the source's own `shape`, so it resolves once and both shapes get that one schema.
 */
function mirrorShape(target, source, keys, wrap) {
    const raw = sourceShape(source);
    for (const key of keys) {
        const desc = Object.getOwnPropertyDescriptor(raw, key);
        if (!desc.enumerable)
            continue;
        if (desc.get) {
            deferProp(target, key, () => {
                const value = source._zod.def.shape[key];
                return wrap ? wrap(value, key) : value;
            });
        }
        else
            putProp(target, key, wrap ? wrap(desc.value, key) : desc.value);
    }
}
// same, for a plain shape a caller passed rather than a schema's
function mirrorProps(target, source) {
    for (const key of Reflect.ownKeys(source)) {
        const desc = Object.getOwnPropertyDescriptor(source, key);
        if (!desc.enumerable)
            continue;
        if (desc.get)
            deferProp(target, key, () => source[key]);
        else
            putProp(target, key, desc.value);
    }
}
function mergeDefs(...defs) {
    const mergedDescriptors = {};
    for (const def of defs) {
        const descriptors = Object.getOwnPropertyDescriptors(def);
        Object.assign(mergedDescriptors, descriptors);
    }
    return Object.defineProperties({}, mergedDescriptors);
}
function esc(str) {
    return JSON.stringify(str);
}
function slugify(input) {
    return input
        .toLowerCase()
        .trim()
        .replace(/[^\w\s-]/g, "")
        .replace(/[\s_-]+/g, "-")
        .replace(/^-+|-+$/g, "");
}
const captureStackTrace = ("captureStackTrace" in Error ? Error.captureStackTrace : (..._args) => { });
function isObject(data) {
    return typeof data === "object" && data !== null && !Array.isArray(data);
}
const allowsEval = /* @__PURE__*/ cached(() => {
    // Skip the probe under `jitless`: strict CSPs report the caught `new Function` as a `securitypolicyviolation` even though the throw is swallowed.
    if (globalConfig.jitless) {
        return false;
    }
    // @ts-ignore
    if (typeof navigator !== "undefined" && navigator?.userAgent?.includes("Cloudflare")) {
        return false;
    }
    try {
        const F = Function;
        new F("");
        return true;
    }
    catch (_) {
        return false;
    }
});
function isPlainObject(o) {
    if (isObject(o) === false)
        return false;
    // modified constructor
    const ctor = o.constructor;
    if (ctor === undefined)
        return true;
    if (typeof ctor !== "function")
        return true;
    // modified prototype
    const prot = ctor.prototype;
    if (isObject(prot) === false)
        return false;
    // ctor doesn't have static `isPrototypeOf`
    if (Object.prototype.hasOwnProperty.call(prot, "isPrototypeOf") === false) {
        return false;
    }
    return true;
}
function shallowClone(o) {
    if (isPlainObject(o))
        return { ...o };
    if (Array.isArray(o))
        return [...o];
    if (o instanceof Map)
        return new Map(o);
    if (o instanceof Set)
        return new Set(o);
    return o;
}
const propertyKeyTypes = /* @__PURE__*/ new Set(["string", "number", "symbol"]);
function escapeRegex(str) {
    return str.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
// zod-specific utils
function clone(inst, def, params) {
    const cl = new inst._zod.constr(def ?? inst._zod.def);
    if (!def || params?.parent)
        cl._zod.parent = inst;
    return cl;
}
function normalizeParams(_params) {
    const params = _params;
    if (!params)
        return {};
    if (typeof params === "string")
        return { error: () => params };
    if (params?.message !== undefined) {
        if (params?.error !== undefined)
            throw new Error("Cannot specify both `message` and `error` params");
        params.error = params.message;
    }
    delete params.message;
    if (typeof params.error === "string")
        return { ...params, error: () => params.error };
    return params;
}
function stringifyPrimitive(value) {
    if (typeof value === "bigint")
        return value.toString() + "n";
    if (typeof value === "string")
        return `"${value}"`;
    return `${value}`;
}
function optionalKeys(shape) {
    return Object.keys(shape).filter((k) => {
        return shape[k]._zod.optin !== undefined && shape[k]._zod.optout === "optional";
    });
}

const NUMBER_FORMAT_RANGES = /*@__PURE__*/ (() => ({
    safeint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    int32: [-2147483648, 2147483647],
    uint32: [0, 4294967295],
    float32: [-34028234663852886e22, 3.4028234663852886e38],
    float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
}))();
const BIGINT_FORMAT_RANGES = {
    int64: [/* @__PURE__*/ BigInt("-9223372036854775808"), /* @__PURE__*/ BigInt("9223372036854775807")],
    uint64: [/* @__PURE__*/ BigInt(0), /* @__PURE__*/ BigInt("18446744073709551615")],
};
function pick(schema, mask) {
    const currDef = schema._zod.def;
    const checks = currDef.checks;
    const hasChecks = checks && checks.length > 0;
    if (hasChecks) {
        throw new Error(".pick() cannot be used on object schemas containing refinements");
    }
    const newShape = {};
    mirrorShape(newShape, schema, maskedKeys(schema, mask));
    return clone(schema, mergeDefs(currDef, { shape: newShape, checks: [] }));
}
// the mask keys that select something, checked against the source's shape without resolving it
function maskedKeys(schema, mask) {
    const raw = sourceShape(schema);
    const keys = [];
    // `for...in` skips symbols, so a symbol in the mask would select nothing
    for (const key of Reflect.ownKeys(mask)) {
        if (!Object.getOwnPropertyDescriptor(raw, key)?.enumerable) {
            throw new Error(`Unrecognized key: "${String(key)}"`);
        }
        if (mask[key])
            keys.push(key);
    }
    return keys;
}
function omit(schema, mask) {
    const currDef = schema._zod.def;
    const checks = currDef.checks;
    const hasChecks = checks && checks.length > 0;
    if (hasChecks) {
        throw new Error(".omit() cannot be used on object schemas containing refinements");
    }
    const omitted = new Set(maskedKeys(schema, mask));
    const newShape = {};
    mirrorShape(newShape, schema, Reflect.ownKeys(sourceShape(schema)).filter((key) => !omitted.has(key)));
    return clone(schema, mergeDefs(currDef, { shape: newShape, checks: [] }));
}
function extend(schema, shape) {
    if (!isPlainObject(shape)) {
        throw new Error("Invalid input to extend: expected a plain object");
    }
    const checks = schema._zod.def.checks;
    const hasChecks = checks && checks.length > 0;
    if (hasChecks) {
        // Only throw if new shape overlaps with existing shape. Use getOwnPropertyDescriptor to check key existence without accessing values
        const existingShape = sourceShape(schema);
        for (const key of Reflect.ownKeys(shape)) {
            if (Object.getOwnPropertyDescriptor(existingShape, key) !== undefined) {
                throw new Error("Cannot overwrite keys on object schemas containing refinements. Use `.safeExtend()` instead.");
            }
        }
    }
    return clone(schema, mergeDefs(schema._zod.def, { shape: extended(schema, shape) }));
}
// the source's keys, then the caller's overlaid on top
function extended(schema, shape) {
    const newShape = {};
    mirrorShape(newShape, schema, Reflect.ownKeys(sourceShape(schema)));
    mirrorProps(newShape, shape);
    return newShape;
}
function safeExtend(schema, shape) {
    if (!isPlainObject(shape)) {
        throw new Error("Invalid input to safeExtend: expected a plain object");
    }
    return clone(schema, mergeDefs(schema._zod.def, { shape: extended(schema, shape) }));
}
function merge(a, b) {
    if (!b?._zod?.def) {
        throw new Error("Invalid input to merge: expected an object schema. To merge a plain shape, use `.extend()`.");
    }
    if (a._zod.def.checks?.length) {
        throw new Error(".merge() cannot be used on object schemas containing refinements. Use .safeExtend() instead.");
    }
    const newShape = {};
    mirrorShape(newShape, a, Reflect.ownKeys(sourceShape(a)));
    mirrorShape(newShape, b, Reflect.ownKeys(sourceShape(b)));
    const def = mergeDefs(a._zod.def, {
        shape: newShape,
        get catchall() {
            return b._zod.def.catchall;
        },
        checks: b._zod.def.checks ?? [],
    });
    return clone(a, def);
}
function partial(Class, schema, mask, name = "partial") {
    const currDef = schema._zod.def;
    const checks = currDef.checks;
    const hasChecks = checks && checks.length > 0;
    if (hasChecks) {
        throw new Error(`.${name}() cannot be used on object schemas containing refinements`);
    }
    const selected = mask ? new Set(maskedKeys(schema, mask)) : undefined;
    const newShape = {};
    mirrorShape(newShape, schema, Reflect.ownKeys(sourceShape(schema)), Class &&
        ((value, key) => (selected && !selected.has(key) ? value : new Class({ type: "optional", innerType: value }))));
    return clone(schema, mergeDefs(schema._zod.def, { shape: newShape, checks: [] }));
}
function required(Class, schema, mask) {
    const selected = mask ? new Set(maskedKeys(schema, mask)) : undefined;
    const newShape = {};
    mirrorShape(newShape, schema, Reflect.ownKeys(sourceShape(schema)), (value, key) => 
    // overwrite with non-optional
    selected && !selected.has(key) ? value : new Class({ type: "nonoptional", innerType: value }));
    return clone(schema, mergeDefs(schema._zod.def, { shape: newShape }));
}
// invalid_type | too_big | too_small | invalid_format | not_multiple_of | unrecognized_keys | invalid_union | invalid_key | invalid_element | invalid_value | custom
function aborted(x, startIndex = 0) {
    if (x.aborted === true)
        return true;
    for (let i = startIndex; i < x.issues.length; i++) {
        if (x.issues[i]?.continue !== true) {
            return true;
        }
    }
    return false;
}
// Checks for explicit abort (continue === false), as opposed to implicit abort (continue === undefined). Used to respect `abort: true` in .refine() even for checks that have a `when` function.
function explicitlyAborted(x, startIndex = 0) {
    if (x.aborted === true)
        return true;
    for (let i = startIndex; i < x.issues.length; i++) {
        if (x.issues[i]?.continue === false) {
            return true;
        }
    }
    return false;
}
function prefixIssues(path, issues) {
    return issues.map((iss) => {
        var _a;
        (_a = iss).path ?? (_a.path = []);
        iss.path.unshift(path);
        return iss;
    });
}
function unwrapMessage(message) {
    return typeof message === "string" ? message : message?.message;
}
/* A check holds no link back to the schema it is attached to — the same check instance is shared by every clone of that schema — so the owner is stamped onto the issues a check just raised, at the only point where both are in scope. Runs on the failure path only; `start` is the issue count from before the check ran. */
/** The leading size checks of `defChecks` that set an upper bound, each paired with it. */
function sizeCaps(defChecks) {
    const caps = [];
    for (const ch of defChecks ?? []) {
        const d = ch._zod.def;
        // a later check may rewrite the value
        if (!/_(length|size)$|_equals$/.test(d.check))
            break;
        const max = d.maximum ?? d.length ?? d.size;
        if (max >= 0)
            caps.push([max, ch]);
    }
    return caps;
}
function attachSchema(issues, start, inst) {
    var _a;
    for (let i = start; i < issues.length; i++) {
        (_a = issues[i]).schema ?? (_a.schema = inst);
    }
}
function finalizeIssue(iss, ctx, config) {
    var _a;
    // A schema that raised an issue itself owns it outright, and outranks any stamp an enclosing check left in `attachSchema`. String formats and z.custom() are schema and check at once, so when they act as a check they defer to that stamp instead.
    const traits = iss.inst?._zod?.traits;
    if (traits?.has("$ZodType")) {
        if (traits.has("$ZodCheck"))
            (_a = iss).schema ?? (_a.schema = iss.inst);
        else
            iss.schema = iss.inst;
    }
    // Decreasing specificity, first map to return a message wins. `inst` is whatever raised the issue, so a check's own map outranks the owning schema's.
    const schemaError = iss.schema !== iss.inst ? iss.schema?._zod.def?.error : undefined;
    const message = iss.message
        ? iss.message
        : (unwrapMessage(iss.inst?._zod.def?.error?.(iss)) ??
            unwrapMessage(schemaError?.(iss)) ??
            unwrapMessage(ctx?.error?.(iss)) ??
            unwrapMessage(config.customError?.(iss)) ??
            unwrapMessage(config.localeError?.(iss)) ??
            "Invalid input");
    // an explicit own-key copy beats object rest with excluded keys, which v8 routes through a generic runtime call; Object.keys rather than for-in so an issue pushed with a prototype does not leak inherited keys, and an own __proto__ key is dropped rather than assigned through the setter
    const full = {};
    for (const k of Object.keys(iss)) {
        if (k === "inst" || k === "schema" || k === "continue" || k === "input" || k === "__proto__")
            continue;
        full[k] = iss[k];
    }
    full.path ?? (full.path = []);
    full.message = message;
    if (ctx?.reportInput) {
        full.input = iss.input;
    }
    return full;
}
const highSurrogate = /[\uD800-\uDBFF]/;
// Code points in `str`: a surrogate pair counts once, a lone surrogate as itself. Hand-rolled because the string iterator allocates and runs ~250x slower on this path; the regex probe exits ~50x quicker for a string with no astral characters.
function codePointLength(str) {
    const units = str.length;
    if (!highSurrogate.test(str))
        return units;
    let count = units;
    for (let i = 0; i < units - 1; i++) {
        if ((str.charCodeAt(i) & 0xfc00) === 0xd800 && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
            count--;
            i++;
        }
    }
    return count;
}
function getLengthableOrigin(input) {
    if (Array.isArray(input))
        return "array";
    if (typeof input === "string")
        return "string";
    return "unknown";
}
function parsedType(data) {
    const t = typeof data;
    switch (t) {
        case "number": {
            return Number.isNaN(data) ? "nan" : "number";
        }
        case "object": {
            if (data === null) {
                return "null";
            }
            if (Array.isArray(data)) {
                return "array";
            }
            const obj = data;
            if (obj && Object.getPrototypeOf(obj) !== Object.prototype && "constructor" in obj && obj.constructor) {
                return obj.constructor.name;
            }
        }
    }
    return t;
}
function issue(...args) {
    const [iss, input, inst] = args;
    if (typeof iss === "string") {
        return {
            message: iss,
            code: "custom",
            input,
            inst,
        };
    }
    return { ...iss };
}
//////////    PROTOTYPE INSTALLERS     //////////
//
// Members live on the prototype and materialize per instance on first read, which keeps own-property count under the step where V8 stops using inline slots. Changing anything here means re-measuring runtime, memory and bundle size together — see "The three axes" in AGENTS.md.
/**
 * Installs a trait's members on its prototype. Each value builds that member for the instance on first read; the built value shadows the accessor as an own property, so a detached `const { parse } = schema` keeps working.
 *
 * Call this from a `proto` initializer, which runs once per prototype — never per instance.
 */
function members(proto, table) {
    for (const key in table) {
        const desc = Object.getOwnPropertyDescriptor(table, key);
        // a getter installs as written, so it stays live: `description` reads through to the registry on every access. not enumerable: an object literal's is, and a prototype member never was
        if (desc.get)
            Object.defineProperty(proto, key, { ...desc, enumerable: false });
        // a method materializes bound on first read, which is what keeps a detached member working: `const opt = schema.optional; opt()`
        else
            defineBound(proto, key, desc.value);
    }
}
/** Shadows a prototype member with an own value, so a getter that builds from the instance runs once. */
function own(inst, key, value, enumerable = true) {
    Object.defineProperty(inst, key, { configurable: true, writable: true, enumerable, value });
    return value;
}
/** Like {@link own}, for a member that was never an own data property and has to stay out of `Object.keys`. */
function hide(inst, key, value) {
    return own(inst, key, value, false);
}
/** Adds members a table derives from the instance: each builds on first read and shadows as own data, and assignment shadows the same way, as when these were own properties. */
function derived(computes, table) {
    for (const key in computes) {
        const compute = computes[key];
        // an object literal's accessor is configurable and enumerable, and `members` copies the descriptor as written
        Object.defineProperty(table, key, {
            configurable: true,
            enumerable: true,
            get() {
                return own(this, key, compute(this));
            },
            set(value) {
                own(this, key, value);
            },
        });
    }
    return table;
}
function defineBound(proto, key, fn) {
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // vitest's spyOn calls a prototype getter bare to find the function it wraps, so a nullish receiver answers the raw method
            return this == null ? fn : own(this, key, fn.bind(this));
        },
        set(value) {
            own(this, key, value);
        },
    });
}
/** Returns the prototype to install on, or `undefined` if this group is already installed on it. */
function claim(inst, sentinel) {
    const proto = Object.getPrototypeOf(inst);
    // Runs on every construction, so `in` rather than the costlier `hasOwnProperty.call`. Sentinels are keys the group itself defines.
    return sentinel in proto ? undefined : proto;
}
// The internals whose init chain is installing. A second call for the same one is a derived constructor overriding its base, so it must not construct another schema in between or the override is dropped.
let installing;
// Set while a getter is running, so a value that resolved through a recursion break is not memoized. One shared descriptor shadows the key for the duration, which costs no per-key allocation.
let broke = false;
const breaker = {
    configurable: true,
    get() {
        broke = true;
        return undefined;
    },
};
/**
 * Installs a lazily-derived internal on the `_zod` prototype of `inst`'s
 * constructor, computed from the internals object itself and cached there on
 * first read. One accessor per constructor rather than one per instance.
 */
function defineLazyInternal(inst, key, compute) {
    const proto = Object.getPrototypeOf(inst._zod);
    if (key in proto && installing !== inst._zod) {
        // A repeat construction: everything is installed already. Cleared here so the reference is not held past the first construction of every type.
        installing = undefined;
        return;
    }
    installing = inst._zod;
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // Shadowed before computing so a re-entrant read from a recursive schema resolves to undefined instead of running the getter again.
            Object.defineProperty(this, key, breaker);
            const outer = broke;
            broke = false;
            try {
                const value = compute(this);
                // A result that resolved through a recursion break is recomputed once the graph is complete; everything else memoizes, undefined included.
                if (broke)
                    delete this[key];
                else
                    Object.defineProperty(this, key, { configurable: true, writable: true, value });
                broke = broke || outer;
                return value;
            }
            catch (err) {
                // A compute that threw memoizes nothing, so a later read runs it again and fails the same way. The shadow goes with it, since leaving it installed would answer undefined for every later read.
                delete this[key];
                broke = broke || outer;
                throw err;
            }
        },
        set(value) {
            Object.defineProperty(this, key, { configurable: true, writable: true, value });
        },
    });
}
/**
 * Installs `key` on `inst`'s prototype, computed by `make` on first read and cached there as an own
 * data property. One accessor per constructor rather than one per instance, because an own accessor
 * puts every instance after the first into v8 dictionary mode. The key doubles as the sentinel.
 */
function installLazyProp(inst, key, make, enumerable) {
    const proto = claim(inst, key);
    if (!proto)
        return;
    Object.defineProperty(proto, key, {
        configurable: true,
        get() {
            // Shadowed before computing, so a re-entrant read from a self-referential shape resolves to undefined instead of running the getter again. A data property rather than an accessor: an own accessor is the dictionary-mode transition this exists to avoid.
            const desc = { configurable: true, writable: true, enumerable, value: undefined };
            Object.defineProperty(this, key, desc);
            // a compute that throws leaves the shadow behind, so later reads answer undefined instead of re-throwing; `defineLazy` did the same, and `defineLazyInternal`'s delete-on-catch would cost bytes in every bundle for a case only a throwing user getter reaches
            desc.value = make(this);
            Object.defineProperty(this, key, desc);
            return desc.value;
        },
        set(value) {
            Object.defineProperty(this, key, { configurable: true, writable: true, enumerable, value });
        },
    });
}
/** Marks the thunk `_catch` synthesises for a constant catch value. `Function.length` cannot tell that thunk from a user callback — rest and defaulted parameters both report arity 0 — and a user callback reads `ctx.error`, whose issues only finalize correctly against the caller's per-parse error map. Provenance can say what arity cannot. A plain string key rather than `Symbol.for`, whose call at module scope no bundler can prove pure — the same shape that anchored `urlCanParse` into every build. */
const CONSTANT_CATCH = "~constantCatch";
/** Wraps a constant catch value in a thunk tagged with {@link CONSTANT_CATCH}. */
function constantCatch(value) {
    const fn = () => value;
    fn[CONSTANT_CATCH] = true;
    return fn;
}

var _a$1;
/** A special constant with type `never` */
const NEVER = /*@__PURE__*/ Object.freeze({
    status: "aborted",
});
/* Shared descriptor for installing `_zod`; defineProperty reads it
 * synchronously, so reusing one object avoids a per-instance allocation. */
const _zodDesc = { value: undefined, enumerable: false };
// null where suppressing the capture would be unrecoverable: `parse()` puts the frames back with `captureStackTrace`, so without it the throw would lose its stack. also latched to null once `stackTraceLimit` proves unassignable, which a realm can do at any point by hardening Error
let _E = "captureStackTrace" in Error ? Error : null;
// v8 captures a stack trace inside the Error constructor, which dominates a failed parse; costs only the frames, and parse() restores those. the constructor must RUN: Object.create is cheaper and passes instanceof, but Error.isError and util.types.isNativeError check an internal slot
function newError(Definition) {
    const E = _E;
    if (E) {
        const saved = E.stackTraceLimit;
        if (typeof saved === "number") {
            try {
                E.stackTraceLimit = 0;
            }
            catch {
                _E = null;
                return new Definition();
            }
            try {
                return new Definition();
            }
            finally {
                E.stackTraceLimit = saved;
            }
        }
    }
    return new Definition();
}
function $constructor(name, initializer, 
/** This trait's members, installed once on every prototype that composes it. They cannot be declared in the initializer above: that runs per instance, and the prototype is shared. */
proto, params) {
    // Prototype for this constructor's `_zod` internals. Lazily-derived fields (`values`, `pattern`, `optin`, …) install here once rather than as an accessor on every instance.
    const zodProto = {};
    // Assigning the fields in the constructor body is what gives instances in-object slots; building the object literally and reparenting it costs a second allocation and a generic property copy.
    function Internals(def) {
        this.def = def;
        this.constr = _;
        this.traits = new Set();
    }
    Internals.prototype = zodProto;
    const protoMembers = proto;
    // One trait's members land on every prototype whose chain composes it, so the answer is per prototype rather than per trait.
    const initialized = protoMembers && new WeakSet();
    function init(inst, def) {
        if (!inst._zod) {
            _zodDesc.value = new Internals(def);
            try {
                Object.defineProperty(inst, "_zod", _zodDesc);
            }
            finally {
                // Cleared even on throw, so the shared descriptor never leaks one instance's internals into the next.
                _zodDesc.value = undefined;
            }
        }
        else if (inst._zod.traits.has(name)) {
            return;
        }
        inst._zod.traits.add(name);
        initializer(inst, def);
        if (initialized) {
            // `super(def)` from a user subclass gives `this` a prototype the subclass owns, and installing there would overwrite whatever the subclass declared. `constr` built the instance, so its prototype is the one below the subclass's that should carry the members. A receiver whose chain never reaches that prototype installs on its own, which for a plain object handed straight to `init` means `Object.prototype` — unchanged from before.
            const own = Object.getPrototypeOf(inst);
            const ctorProto = inst._zod.constr.prototype;
            let up = own;
            while (up && up !== ctorProto)
                up = Object.getPrototypeOf(up);
            const target = up ?? own;
            if (!initialized.has(target)) {
                initialized.add(target);
                members(target, protoMembers);
            }
        }
        // support prototype modifications; for-in avoids the array allocation of Object.keys on the (usually empty) prototype
        const proto = _.prototype;
        for (const k in proto) {
            if (!Object.prototype.hasOwnProperty.call(proto, k))
                continue;
            if (!(k in inst)) {
                inst[k] = proto[k].bind(inst);
            }
        }
    }
    // doesn't work if Parent has a constructor with arguments
    const Parent = params?.Parent ?? Object;
    class Definition extends Parent {
    }
    Object.defineProperty(Definition, "name", { value: name });
    function _(def) {
        const inst = params?.Parent ? newError(Definition) : this;
        init(inst, def);
        const deferred = inst._zod.deferred;
        if (deferred) {
            for (const fn of deferred) {
                fn();
            }
            // Released: initializers run once, and the list would otherwise be retained for the schema's lifetime.
            inst._zod.deferred = undefined;
        }
        // Global post-processor hook. Internal: installed by `import "zod/compile"` to enable AOT compilation for every constructed schema. Runs last, once the instance is fully built, because it hands the instance to compile(). The post-processor is expected to be reentrancy-guarded by its own implementation.
        const pp = globalThis.__zod_globalConfig?.postProcessor;
        if (pp)
            pp(inst);
        return inst;
    }
    Object.defineProperty(_, "init", { value: init });
    Object.defineProperty(_, Symbol.hasInstance, {
        value: (inst) => {
            if (params?.Parent && inst instanceof params.Parent)
                return true;
            return inst?._zod?.traits?.has(name);
        },
    });
    Object.defineProperty(_, "name", { value: name });
    return _;
}
class $ZodAsyncError extends Error {
    constructor() {
        super(`Encountered Promise during synchronous parse. Use .parseAsync() instead.`);
    }
}
class $ZodEncodeError extends Error {
    constructor(name) {
        super(`Encountered unidirectional transform during encode: ${name}`);
        this.name = "ZodEncodeError";
    }
}
(_a$1 = globalThis).__zod_globalConfig ?? (_a$1.__zod_globalConfig = {});
const globalConfig = globalThis.__zod_globalConfig;
function config(newConfig) {
    if (newConfig)
        Object.assign(globalConfig, newConfig);
    return globalConfig;
}

/* Computing the message eagerly is expensive (pretty-printed JSON of all
 * issues), so defer it until first read. The accessor functions and
 * descriptors are shared across instances to keep error construction
 * cheap; the computed message is cached on the internals object. The
 * setter preserves plain assignment semantics for consumers that
 * overwrite `message`. */
function _getMessage() {
    const internals = this._zod;
    internals.message ?? (internals.message = JSON.stringify(internals.def, jsonStringifyReplacer, 2));
    return internals.message;
}
function _setMessage(value) {
    this._zod.message = value;
}
const _messageDesc = {
    get: _getMessage,
    set: _setMessage,
    enumerable: true,
    configurable: true,
};
const _issuesDesc = { value: undefined, enumerable: false };
/* Prototypes that already carry the lazy `toString`. Seeded with the
 * intrinsics so that `init` on a foreign object — it accepts any object —
 * can never install an accessor onto a prototype we do not own. */
const _installedToString = /* @__PURE__ */ new WeakSet([Object.prototype, Error.prototype]);
const initializer$1 = (inst, def) => {
    inst.name = "$ZodError";
    // `_zod` is already non-enumerable: $constructor's init defined it with this same descriptor
    _issuesDesc.value = def;
    Object.defineProperty(inst, "issues", _issuesDesc);
    // Clear the shared slot; a retained `value` pins the last error's issues.
    _issuesDesc.value = undefined;
    Object.defineProperty(inst, "message", _messageDesc);
    /* `toString` lives as a non-enumerable lazy getter on the shared
     * prototype; on first access it caches a per-instance closure so
     * detached usage still works. */
    const proto = Object.getPrototypeOf(inst);
    if (!_installedToString.has(proto)) {
        _installedToString.add(proto);
        Object.defineProperty(proto, "toString", {
            configurable: true,
            enumerable: false,
            get() {
                const value = () => this.message;
                Object.defineProperty(this, "toString", { value, configurable: true, writable: true });
                return value;
            },
            set(value) {
                Object.defineProperty(this, "toString", { value, configurable: true, writable: true });
            },
        });
    }
};
const $ZodError = $constructor("$ZodError", initializer$1);
/** Get-or-create `obj[key]` as an own data property. A path segment naming an inherited member
 * ("toString", "constructor") would otherwise read through to the prototype, and assigning
 * "__proto__" would hit the setter instead of creating a key. */
function node(obj, key, make) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) {
        if (key === "__proto__") {
            Object.defineProperty(obj, key, { value: make(), writable: true, enumerable: true, configurable: true });
        }
        else {
            obj[key] = make();
        }
    }
    return obj[key];
}
function flattenError(error, mapper = (issue) => issue.message) {
    const fieldErrors = {};
    const formErrors = [];
    for (const sub of error.issues) {
        if (sub.path.length > 0) {
            node(fieldErrors, sub.path[0], () => []).push(mapper(sub));
        }
        else {
            formErrors.push(mapper(sub));
        }
    }
    return { formErrors, fieldErrors };
}
function formatError(error, mapper = (issue) => issue.message) {
    const fieldErrors = { _errors: [] };
    const processError = (error, path = []) => {
        for (const issue of error.issues) {
            if (issue.code === "invalid_union" && issue.errors.length) {
                issue.errors.map((issues) => processError({ issues }, [...path, ...issue.path]));
            }
            else if (issue.code === "invalid_key") {
                processError({ issues: issue.issues }, [...path, ...issue.path]);
            }
            else if (issue.code === "invalid_element") {
                processError({ issues: issue.issues }, [...path, ...issue.path]);
            }
            else {
                const fullpath = [...path, ...issue.path];
                if (fullpath.length === 0) {
                    fieldErrors._errors.push(mapper(issue));
                }
                else {
                    let curr = fieldErrors;
                    let i = 0;
                    while (i < fullpath.length) {
                        const el = fullpath[i];
                        const terminal = i === fullpath.length - 1;
                        // `_errors` is reserved by this legacy format, so merge a matching path segment into the current node instead of treating its array as a child.
                        if (el === "_errors") {
                            if (terminal)
                                curr._errors.push(mapper(issue));
                            i++;
                            continue;
                        }
                        // A path element may collide with an inherited property name such as
                        // "__proto__" or "constructor". Truthiness checks read the prototype
                        // (so no node is created, then ._errors.push throws), and bracket
                        // assignment of "__proto__" hits the setter instead of creating an
                        // own key. Guard the read with hasOwnProperty and create the node
                        // with defineProperty so any path element becomes a real own key.
                        if (!Object.prototype.hasOwnProperty.call(curr, el)) {
                            Object.defineProperty(curr, el, {
                                value: { _errors: [] },
                                enumerable: true,
                                writable: true,
                                configurable: true,
                            });
                        }
                        const node = curr[el];
                        if (terminal) {
                            node._errors.push(mapper(issue));
                        }
                        curr = node;
                        i++;
                    }
                }
            }
        }
    };
    processError(error);
    return fieldErrors;
}

// Always both keys, so the `_params` read site in `_parse` sees one object shape rather than two.
function finalizeParams(callee, params) {
    return { callee: params?.callee ?? callee, Err: params?.Err };
}
const _parse = (_Err) => {
    const fn = (schema, value, _ctx, _params) => {
        const ctx = _ctx ? { ..._ctx, async: false } : { async: false };
        const result = schema._zod.run({ value, issues: [] }, ctx);
        if (result instanceof Promise) {
            throw new $ZodAsyncError();
        }
        if (result.issues.length) {
            const e = new (_params?.Err ?? _Err)(result.issues.map((iss) => finalizeIssue(iss, ctx, config())));
            captureStackTrace(e, _params?.callee ?? fn);
            throw e;
        }
        return result.value;
    };
    return fn;
};
const _parseAsync = (_Err) => {
    const fn = async (schema, value, _ctx, params) => {
        const ctx = _ctx ? { ..._ctx, async: true } : { async: true };
        let result = schema._zod.run({ value, issues: [] }, ctx);
        if (result instanceof Promise)
            result = await result;
        if (result.issues.length) {
            const e = new (params?.Err ?? _Err)(result.issues.map((iss) => finalizeIssue(iss, ctx, config())));
            captureStackTrace(e, params?.callee ?? fn);
            throw e;
        }
        return result.value;
    };
    return fn;
};
const _safeParse = (_Err) => (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, async: false } : { async: false };
    const result = schema._zod.run({ value, issues: [] }, ctx);
    if (result instanceof Promise) {
        throw new $ZodAsyncError();
    }
    return result.issues.length ? failure(_Err, result.issues, ctx) : { success: true, data: result.value };
};
// the error is built on the first read of `error`: finalizing the issues and constructing the instance is most of a failing parse, and a caller that only branches on `success` never pays it. a getter in the literal keeps this small; the alternative, one shared accessor descriptor plus a hidden state slot, reads ~15% faster but costs ~75 B gzipped in every bundle
function failure(Err, issues, ctx) {
    let error;
    return {
        success: false,
        get error() {
            if (!error) {
                error = new Err(issues.map((iss) => finalizeIssue(iss, ctx, config())));
                // finalizeIssue drops `input`, so the built error holds nothing; keeping the raw issues past this point pins the parsed value for the life of the result
                issues = undefined;
                ctx = undefined;
            }
            return error;
        },
        set error(e) {
            error = e;
            // a replacement makes the getter's branch unreachable, so the captures have to go here too
            issues = undefined;
            ctx = undefined;
        },
    };
}
const _safeParseAsync = (_Err) => async (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, async: true } : { async: true };
    let result = schema._zod.run({ value, issues: [] }, ctx);
    if (result instanceof Promise)
        result = await result;
    return result.issues.length ? failure(_Err, result.issues, ctx) : { success: true, data: result.value };
};
// registry mirrors of the compiler's sentinels, so this module never imports the compiler
const COMPILE_INVALID = /* @__PURE__ */ Symbol.for("zod.compile.invalid");
const COMPILE_FALLBACK = /* @__PURE__ */ Symbol.for("zod.compile.fallback");
// Deliberately tiny, because v8 will not inline a body carrying the fallback's object literals and throw. Everything that is not the compiled happy path lives in validateFallback, and that split is worth ~35% on a compiled schema.
const validate = ((schema, value, _ctx) => {
    const validator = schema._zod.bag.validator;
    if (validator !== undefined) {
        if (validator(value) !== COMPILE_INVALID)
            return true;
        // a definite sentinel means the runtime would reject, so skip the re-parse; a ctx can still change the answer
        if (validator.definite === true && _ctx === undefined)
            return false;
    }
    return validateFallback(schema, value, _ctx);
});
function validateFallback(schema, value, _ctx) {
    const ctx = _ctx
        ? { ..._ctx, async: false, abortEarly: true }
        : { async: false, abortEarly: true };
    const fallbackRun = schema._zod.bag.fallbackRun;
    let result;
    if (fallbackRun) {
        // skip nested fast paths on the fallback, so user callbacks keep the at-most-twice bound
        ctx[COMPILE_FALLBACK] = true;
        result = fallbackRun({ value, issues: [] }, ctx);
    }
    else {
        result = schema._zod.run({ value, issues: [] }, ctx);
    }
    if (result instanceof Promise) {
        throw new $ZodAsyncError();
    }
    return result.issues.length === 0;
}
// no fast path: the compiler keeps async parses on the runtime, because a promise-returning callback that is not declared async compiles to a throw
const validateAsync$1 = async (schema, value, _ctx) => {
    const ctx = _ctx
        ? { ..._ctx, async: true, abortEarly: true }
        : { async: true, abortEarly: true };
    let result = schema._zod.run({ value, issues: [] }, ctx);
    if (result instanceof Promise)
        result = await result;
    return result.issues.length === 0;
};
const _encode = (_Err) => {
    const parse = _parse(_Err);
    const fn = (schema, value, _ctx, _params) => {
        const ctx = _ctx ? { ..._ctx, direction: "backward" } : { direction: "backward" };
        return parse(schema, value, ctx, finalizeParams(fn, _params));
    };
    return fn;
};
const _decode = (_Err) => {
    const parse = _parse(_Err);
    const fn = (schema, value, _ctx, _params) => {
        return parse(schema, value, _ctx, finalizeParams(fn, _params));
    };
    return fn;
};
const _encodeAsync = (_Err) => {
    const parseAsync = _parseAsync(_Err);
    const fn = async (schema, value, _ctx, _params) => {
        const ctx = _ctx ? { ..._ctx, direction: "backward" } : { direction: "backward" };
        return (await parseAsync(schema, value, ctx, finalizeParams(fn, _params)));
    };
    return fn;
};
const _decodeAsync = (_Err) => {
    const parseAsync = _parseAsync(_Err);
    const fn = async (schema, value, _ctx, _params) => {
        return await parseAsync(schema, value, _ctx, finalizeParams(fn, _params));
    };
    return fn;
};
const _safeEncode = (_Err) => (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, direction: "backward" } : { direction: "backward" };
    return _safeParse(_Err)(schema, value, ctx);
};
const _safeDecode = (_Err) => (schema, value, _ctx) => {
    return _safeParse(_Err)(schema, value, _ctx);
};
const _safeEncodeAsync = (_Err) => async (schema, value, _ctx) => {
    const ctx = _ctx ? { ..._ctx, direction: "backward" } : { direction: "backward" };
    return _safeParseAsync(_Err)(schema, value, ctx);
};
const _safeDecodeAsync = (_Err) => async (schema, value, _ctx) => {
    return _safeParseAsync(_Err)(schema, value, _ctx);
};

/**
 * @deprecated CUID v1 is deprecated by its authors due to information leakage
 * (timestamps embedded in the id). Use {@link cuid2} instead.
 * See https://github.com/paralleldrive/cuid.
 */
const cuid = /^[cC][0-9a-z]{6,}$/;
const cuid2 = /^[0-9a-z]+$/;
const ulid = /^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/;
const xid = /^[0-9a-vA-V]{20}$/;
const ksuid = /^[A-Za-z0-9]{27}$/;
const nanoid = /^[a-zA-Z0-9_-]{21}$/;
function nanoidOfLength(length) {
    return new RegExp(`^[a-zA-Z0-9_-]{${length}}$`);
}
/** ISO 8601-1 duration regex. Does not support the 8601-2 extensions like negative durations or fractional/negative components. */
const duration = /^P(?:(\d+W)|(?!.*W)(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?)$/;
/** A regex for any UUID-like identifier: 8-4-4-4-12 hex pattern */
const guid = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;
/** Returns a regex for validating an RFC 9562/4122 UUID.
 *
 * @param version Optionally specify a version 1-8. If no version is specified, all versions are supported. */
const uuid = (version) => {
    if (!version)
        return /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
    return new RegExp(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-${version}[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12})$`);
};
/** Practical email validation */
const email = /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$/;
// from https://thekevinscott.com/emojis-in-javascript/#writing-a-regular-expression
// Single character class, not an alternation: the two properties overlap (U+1F9B0-U+1F9B3), so `(A|B)+` backtracks exponentially on a failed match. The leading lookahead then demands one anchor — a pictograph, a regional indicator, or the enclosing keycap — because `\p{Emoji_Component}` on its own covers ASCII digits, `#`, `*`, ZWJ, variation selectors and skin tone modifiers, none of which is an emoji without a base.
const _emoji$1 = `^(?=[\\s\\S]*[\\p{Extended_Pictographic}\\p{Regional_Indicator}\\u20E3])[\\p{Extended_Pictographic}\\p{Emoji_Component}]+$`;
function emoji() {
    return new RegExp(_emoji$1, "u");
}
const ipv4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const ipv6 = /^(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:))$/;
const cidrv4 = /^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\/([0-9]|[1-2][0-9]|3[0-2])$/;
const cidrv6 = /^(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:))\/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$/;
// https://stackoverflow.com/questions/7860392/determine-if-string-is-in-base64-using-javascript
const base64 = /^$|^(?:[0-9a-zA-Z+/]{4})*(?:(?:[0-9a-zA-Z+/]{2}==)|(?:[0-9a-zA-Z+/]{3}=))?$/;
const base64url = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;
const httpProtocol = /^https?$/;
// https://blog.stevenlevithan.com/archives/validate-phone-number#r4-3 (regex sans spaces) E.164: leading digit must be 1-9; total digits (excluding '+') between 7-15
const e164 = /^\+[1-9]\d{6,14}$/;
const dateSource = `(?:(?:\\d\\d[2468][048]|\\d\\d[13579][26]|\\d\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|(?:02)-(?:0[1-9]|1\\d|2[0-8])))`;

function anchor(source) {
    return new RegExp(`^${source}$`);
}
const date = /*@__PURE__*/ anchor(dateSource);
function timeSource(args) {
    const hhmm = `(?:[01]\\d|2[0-3]):[0-5]\\d`;
    const regex = typeof args.precision === "number"
        ? args.precision === -1
            ? `${hhmm}`
            : args.precision === 0
                ? `${hhmm}:[0-5]\\d`
                : `${hhmm}:[0-5]\\d\\.\\d{${args.precision}}`
        : args.seconds
            ? `${hhmm}:[0-5]\\d(?:\\.\\d+)?`
            : `${hhmm}(?::[0-5]\\d(?:\\.\\d+)?)?`;
    return regex;
}
function time(args) {
    return new RegExp(`^${timeSource(args)}$`);
}
// Adapted from https://stackoverflow.com/a/3143231
function datetime$1(args) {
    const opts = ["Z"];
    // if (args.offset) opts.push(`([+-]\\d{2}:\\d{2})`);
    if (args.offset)
        opts.push(`([+-](?:[01]\\d|2[0-3]):[0-5]\\d)`);
    // RFC 3339 mandates seconds wherever the time carries a `Z` or an offset, so only the unqualified form `local` adds may omit them
    const qualified = `${timeSource({ precision: args.precision, seconds: true })}(?:${opts.join("|")})`;
    const timeRegex = args.local ? `${qualified}|${timeSource({ precision: args.precision })}` : qualified;
    return new RegExp(`^${dateSource}T(?:${timeRegex})$`);
}
// the unbounded form of `string()` as a literal, so every plain string shares one instance instead of building its own
const anyString = /^[\s\S]{0,}$/;
const integer$1 = /^-?\d+$/;
const number$1 = /^-?\d+(?:\.\d+)?$/;
const boolean$1 = /^(?:true|false)$/i;
// regex for string with no uppercase letters
const lowercase = /^[^A-Z]*$/;
// regex for string with no lowercase letters
const uppercase = /^[^a-z]*$/;

// import { $ZodType } from "./schemas.js";
const $ZodCheck = /*@__PURE__*/ $constructor("$ZodCheck", (inst, def) => {
    var _a;
    inst._zod ?? (inst._zod = {});
    inst._zod.def = def;
    (_a = inst._zod).onattach ?? (_a.onattach = []);
});
/** Default `when` for length-based checks: run only on non-nullish values with a `length`. */
const _whenHasLength = (payload) => {
    const val = payload.value;
    return !nullish(val) && val.length !== undefined;
};
const numericOriginMap = {
    number: "number",
    bigint: "bigint",
    object: "date",
};
const $ZodCheckLessThan = /*@__PURE__*/ $constructor("$ZodCheckLessThan", (inst, def) => {
    $ZodCheck.init(inst, def);
    const origin = numericOriginMap[typeof def.value];
    inst._zod.check = (payload) => {
        if (def.inclusive ? payload.value <= def.value : payload.value < def.value) {
            return;
        }
        payload.issues.push({
            origin: numericOriginMap[typeof payload.value] ?? origin,
            code: "too_big",
            maximum: typeof def.value === "object" ? def.value.getTime() : def.value,
            input: payload.value,
            inclusive: def.inclusive,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckGreaterThan = /*@__PURE__*/ $constructor("$ZodCheckGreaterThan", (inst, def) => {
    $ZodCheck.init(inst, def);
    const origin = numericOriginMap[typeof def.value];
    inst._zod.check = (payload) => {
        if (def.inclusive ? payload.value >= def.value : payload.value > def.value) {
            return;
        }
        payload.issues.push({
            origin: numericOriginMap[typeof payload.value] ?? origin,
            code: "too_small",
            minimum: typeof def.value === "object" ? def.value.getTime() : def.value,
            input: payload.value,
            inclusive: def.inclusive,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckMultipleOf = 
/*@__PURE__*/ $constructor("$ZodCheckMultipleOf", (inst, def) => {
    $ZodCheck.init(inst, def);
    inst._zod.check = (payload) => {
        if (typeof payload.value !== typeof def.value)
            throw new Error("Cannot mix number and bigint in multiple_of check.");
        const isMultiple = typeof payload.value === "bigint"
            ? // `value % 0n` throws, and nothing is a multiple of zero — the number branch already fails this way via NaN
                def.value !== BigInt(0) && payload.value % def.value === BigInt(0)
            : floatSafeRemainder(payload.value, def.value) === 0;
        if (isMultiple)
            return;
        payload.issues.push({
            origin: typeof payload.value,
            code: "not_multiple_of",
            divisor: def.value,
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckNumberFormat = /*@__PURE__*/ $constructor("$ZodCheckNumberFormat", (inst, def) => {
    $ZodCheck.init(inst, def); // no format checks
    def.format = def.format || "float64";
    const isInt = def.format?.includes("int");
    const origin = isInt ? "int" : "number";
    const [minimum, maximum] = NUMBER_FORMAT_RANGES[def.format];
    inst._zod.check = (payload) => {
        const input = payload.value;
        if (isInt) {
            if (!Number.isInteger(input)) {
                // invalid_format issue
                // payload.issues.push({
                //   expected: def.format,
                //   format: def.format,
                //   code: "invalid_format",
                //   input,
                //   inst,
                // });
                // invalid_type issue
                payload.issues.push({
                    expected: origin,
                    format: def.format,
                    code: "invalid_type",
                    continue: false,
                    input,
                    inst,
                });
                return;
                // not_multiple_of issue
                // payload.issues.push({
                //   code: "not_multiple_of",
                //   origin: "number",
                //   input,
                //   inst,
                //   divisor: 1,
                // });
            }
            if (!Number.isSafeInteger(input)) {
                if (input > 0) {
                    // too_big
                    payload.issues.push({
                        input,
                        code: "too_big",
                        maximum: Number.MAX_SAFE_INTEGER,
                        note: "Integers must be within the safe integer range.",
                        inst,
                        origin,
                        inclusive: true,
                        continue: !def.abort,
                    });
                }
                else {
                    // too_small
                    payload.issues.push({
                        input,
                        code: "too_small",
                        minimum: Number.MIN_SAFE_INTEGER,
                        note: "Integers must be within the safe integer range.",
                        inst,
                        origin,
                        inclusive: true,
                        continue: !def.abort,
                    });
                }
                return;
            }
        }
        if (input < minimum) {
            payload.issues.push({
                origin: "number",
                input,
                code: "too_small",
                minimum,
                inclusive: true,
                inst,
                continue: !def.abort,
            });
        }
        if (input > maximum) {
            payload.issues.push({
                origin: "number",
                input,
                code: "too_big",
                maximum,
                inclusive: true,
                inst,
                continue: !def.abort,
            });
        }
    };
});
const $ZodCheckMaxLength = /*@__PURE__*/ $constructor("$ZodCheckMaxLength", (inst, def) => {
    var _a;
    $ZodCheck.init(inst, def);
    (_a = inst._zod.def).when ?? (_a.when = _whenHasLength);
    inst._zod.check = (payload) => {
        const input = payload.value;
        const units = input.length;
        // Strings are measured in Unicode code points, not UTF-16 units. A code point is at most two units, so a string that already fits in units fits in code points; only an overflow has to be counted.
        const length = typeof input === "string" && units > def.maximum ? codePointLength(input) : units;
        if (length <= def.maximum)
            return;
        const origin = getLengthableOrigin(input);
        payload.issues.push({
            origin,
            code: "too_big",
            maximum: def.maximum,
            inclusive: true,
            input,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckMinLength = /*@__PURE__*/ $constructor("$ZodCheckMinLength", (inst, def) => {
    var _a;
    $ZodCheck.init(inst, def);
    (_a = inst._zod.def).when ?? (_a.when = _whenHasLength);
    inst._zod.check = (payload) => {
        const input = payload.value;
        const units = input.length;
        // A code point is one or two UTF-16 units, so fewer units than the floor can never reach it and twice the floor always clears it. Only in between is the exact count in doubt.
        const length = typeof input === "string" && units >= def.minimum && units < def.minimum * 2
            ? codePointLength(input)
            : units;
        if (length >= def.minimum)
            return;
        const origin = getLengthableOrigin(input);
        payload.issues.push({
            origin,
            code: "too_small",
            minimum: def.minimum,
            inclusive: true,
            input,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckLengthEquals = /*@__PURE__*/ $constructor("$ZodCheckLengthEquals", (inst, def) => {
    var _a;
    $ZodCheck.init(inst, def);
    (_a = inst._zod.def).when ?? (_a.when = _whenHasLength);
    inst._zod.check = (payload) => {
        const input = payload.value;
        const units = input.length;
        // A code point is one or two UTF-16 units, so outside `[length, length * 2]` units the target is missed either way — and missed in the same direction in both measures.
        const length = typeof input === "string" && units >= def.length && units <= def.length * 2
            ? codePointLength(input)
            : units;
        if (length === def.length)
            return;
        const origin = getLengthableOrigin(input);
        const tooBig = length > def.length;
        payload.issues.push({
            origin,
            ...(tooBig ? { code: "too_big", maximum: def.length } : { code: "too_small", minimum: def.length }),
            inclusive: true,
            exact: true,
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckStringFormat = /*@__PURE__*/ $constructor("$ZodCheckStringFormat", (inst, def) => {
    var _a, _b;
    $ZodCheck.init(inst, def);
    if (def.pattern)
        (_a = inst._zod).check ?? (_a.check = (payload) => {
            def.pattern.lastIndex = 0;
            if (def.pattern.test(payload.value))
                return;
            payload.issues.push({
                origin: "string",
                code: "invalid_format",
                format: def.format,
                input: payload.value,
                ...(def.pattern ? { pattern: def.pattern.toString() } : {}),
                inst,
                continue: !def.abort,
            });
        });
    else
        (_b = inst._zod).check ?? (_b.check = () => { });
});
const $ZodCheckRegex = /*@__PURE__*/ $constructor("$ZodCheckRegex", (inst, def) => {
    $ZodCheckStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        def.pattern.lastIndex = 0;
        if (def.pattern.test(payload.value))
            return;
        payload.issues.push({
            origin: "string",
            code: "invalid_format",
            format: "regex",
            input: payload.value,
            pattern: def.pattern.toString(),
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckLowerCase = /*@__PURE__*/ $constructor("$ZodCheckLowerCase", (inst, def) => {
    def.pattern ?? (def.pattern = lowercase);
    $ZodCheckStringFormat.init(inst, def);
});
const $ZodCheckUpperCase = /*@__PURE__*/ $constructor("$ZodCheckUpperCase", (inst, def) => {
    def.pattern ?? (def.pattern = uppercase);
    $ZodCheckStringFormat.init(inst, def);
});
const $ZodCheckIncludes = /*@__PURE__*/ $constructor("$ZodCheckIncludes", (inst, def) => {
    $ZodCheck.init(inst, def);
    const escapedRegex = escapeRegex(def.includes);
    // `String.prototype.includes(sub, position)` matches `sub` at `position`
    // OR LATER, so the pattern must allow at least `position` leading chars
    // (`{N,}`), not exactly `position` chars (`{N}`).
    const pattern = new RegExp(typeof def.position === "number" ? `^.{${def.position},}${escapedRegex}` : escapedRegex);
    def.pattern = pattern;
    inst._zod.check = (payload) => {
        if (payload.value.includes(def.includes, def.position))
            return;
        payload.issues.push({
            origin: "string",
            code: "invalid_format",
            format: "includes",
            includes: def.includes,
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckStartsWith = /*@__PURE__*/ $constructor("$ZodCheckStartsWith", (inst, def) => {
    $ZodCheck.init(inst, def);
    const pattern = new RegExp(`^${escapeRegex(def.prefix)}.*`);
    def.pattern ?? (def.pattern = pattern);
    inst._zod.check = (payload) => {
        if (payload.value.startsWith(def.prefix))
            return;
        payload.issues.push({
            origin: "string",
            code: "invalid_format",
            format: "starts_with",
            prefix: def.prefix,
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckEndsWith = /*@__PURE__*/ $constructor("$ZodCheckEndsWith", (inst, def) => {
    $ZodCheck.init(inst, def);
    const pattern = new RegExp(`.*${escapeRegex(def.suffix)}$`);
    def.pattern ?? (def.pattern = pattern);
    inst._zod.check = (payload) => {
        if (payload.value.endsWith(def.suffix))
            return;
        payload.issues.push({
            origin: "string",
            code: "invalid_format",
            format: "ends_with",
            suffix: def.suffix,
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodCheckOverwrite = /*@__PURE__*/ $constructor("$ZodCheckOverwrite", (inst, def) => {
    $ZodCheck.init(inst, def);
    inst._zod.check = (payload) => {
        payload.value = def.tx(payload.value);
    };
});

class Doc {
    constructor(args = [], closed = {}) {
        this.content = [];
        this.indent = 0;
        this.args = args;
        this.closed = closed;
    }
    // the compiler catches a child's throw and keeps writing into this doc, so the indent has to unwind with it
    indented(fn) {
        this.indent += 1;
        try {
            fn(this);
        }
        finally {
            this.indent -= 1;
        }
    }
    write(arg) {
        if (typeof arg === "function") {
            arg(this, { execution: "sync" });
            arg(this, { execution: "async" });
            return;
        }
        const content = arg;
        const lines = content.split("\n").filter((x) => x);
        const minIndent = Math.min(...lines.map((x) => x.length - x.trimStart().length));
        const dedented = lines.map((x) => x.slice(minIndent)).map((x) => " ".repeat(this.indent * 2) + x);
        for (const line of dedented) {
            this.content.push(line);
        }
    }
    compile() {
        const F = Function;
        const content = this?.content ?? [``];
        const factory = new F(...Object.keys(this.closed), `return function (${this.args.join(", ")}) {\n${content.join("\n")}\n};`);
        return factory(...Object.values(this.closed));
    }
}

const version = {
    major: 4,
    minor: 6,
    patch: 7,
};

const $ZodType = /*@__PURE__*/ $constructor("$ZodType", (inst, def) => {
    var _a;
    inst ?? (inst = {});
    inst._zod.def = def; // set _def property
    inst._zod.bag = inst._zod.bag || {}; // initialize _bag object
    inst._zod.version = version;
    const defChecks = inst._zod.def.checks;
    // if inst is itself a checks.$ZodCheck, run it as a check
    const checks = inst._zod.traits.has("$ZodCheck")
        ? [inst, ...(defChecks ?? [])]
        : defChecks?.length
            ? [...defChecks]
            : [];
    for (const ch of checks) {
        for (const fn of ch._zod.onattach) {
            fn(inst);
        }
    }
    if (checks.length === 0) {
        // deferred initializer inst._zod.parse is not yet defined
        (_a = inst._zod).deferred ?? (_a.deferred = []);
        inst._zod.deferred?.push(() => {
            inst._zod.run = inst._zod.parse;
        });
    }
    else {
        const runChecks = (payload, checks, ctx) => {
            if (payload.memo)
                return payload;
            let isAborted = aborted(payload);
            let asyncResult;
            for (const ch of checks) {
                if (ch._zod.def.when) {
                    if (explicitlyAborted(payload))
                        continue;
                    const shouldRun = ch._zod.def.when(payload);
                    if (!shouldRun)
                        continue;
                }
                else if (isAborted) {
                    continue;
                }
                const currLen = payload.issues.length;
                const _ = ch._zod.check(payload);
                if (_ instanceof Promise && ctx?.async === false) {
                    throw new $ZodAsyncError();
                }
                if (asyncResult || _ instanceof Promise) {
                    asyncResult = (asyncResult ?? Promise.resolve()).then(async () => {
                        await _;
                        const nextLen = payload.issues.length;
                        if (nextLen === currLen)
                            return;
                        attachSchema(payload.issues, currLen, inst);
                        if (!isAborted)
                            isAborted = aborted(payload, currLen);
                    });
                }
                else {
                    const nextLen = payload.issues.length;
                    if (nextLen === currLen)
                        continue;
                    attachSchema(payload.issues, currLen, inst);
                    if (!isAborted)
                        isAborted = aborted(payload, currLen);
                }
            }
            if (asyncResult) {
                return asyncResult.then(() => {
                    return payload;
                });
            }
            return payload;
        };
        const handleCanaryResult = (canary, payload, ctx) => {
            // abort if the canary is aborted
            if (aborted(canary)) {
                canary.aborted = true;
                return canary;
            }
            // run checks first, then
            const checkResult = runChecks(payload, checks, ctx);
            if (checkResult instanceof Promise) {
                if (ctx.async === false)
                    throw new $ZodAsyncError();
                return checkResult.then((checkResult) => inst._zod.parse(checkResult, ctx));
            }
            return inst._zod.parse(checkResult, ctx);
        };
        inst._zod.run = (payload, ctx) => {
            if (ctx.skipChecks) {
                return inst._zod.parse(payload, ctx);
            }
            if (ctx.direction === "backward") {
                // run canary initial pass (no checks)
                const canary = inst._zod.parse({ value: payload.value, issues: [] }, { ...ctx, skipChecks: true });
                if (canary instanceof Promise) {
                    return canary.then((canary) => {
                        return handleCanaryResult(canary, payload, ctx);
                    });
                }
                return handleCanaryResult(canary, payload, ctx);
            }
            // forward
            const result = inst._zod.parse(payload, ctx);
            if (result instanceof Promise) {
                if (ctx.async === false)
                    throw new $ZodAsyncError();
                return result.then((result) => runChecks(result, checks, ctx));
            }
            return runChecks(result, checks, ctx);
        };
    }
}, {
    // Wrappers extend this by installing a richer factory over it; reading it eagerly would defeat the laziness.
    get "~standard"() {
        return hide(this, "~standard", standardProps(this));
    },
    set "~standard"(value) {
        own(this, "~standard", value);
    },
});
/** The Standard Schema surface for `inst`. Shared so wrappers can extend it without forcing it. */
// a Standard Schema result only reports issues, so a failure finalizes them straight off the raw payload: no ZodError, and no lazy result to read through
const toStandardResult = (r, ctx) => r.issues.length ? { issues: r.issues.map((iss) => finalizeIssue(iss, ctx, config())) } : { value: r.value };
async function validateAsync(inst, value) {
    const ctx = { async: true };
    return toStandardResult((await inst._zod.run({ value, issues: [] }, ctx)), ctx);
}
function standardProps(inst) {
    return {
        validate: (value) => {
            const ctx = { async: false };
            try {
                const r = inst._zod.run({ value, issues: [] }, ctx);
                if (!(r instanceof Promise))
                    return toStandardResult(r, ctx);
            }
            catch (_) { }
            // async function so a synchronously throwing check rejects instead of escaping validate
            return validateAsync(inst, value);
        },
        vendor: "zod",
        version: 1,
    };
}
const $ZodString = /*@__PURE__*/ $constructor("$ZodString", (inst, def) => {
    $ZodType.init(inst, def);
    // a format's own pattern, else unbounded; a template literal derives the check-aware form itself
    inst._zod.pattern = def.pattern ?? anyString;
    inst._zod.parse = (payload, _) => {
        if (def.coerce)
            try {
                payload.value = String(payload.value);
            }
            catch (_) { }
        if (typeof payload.value === "string")
            return payload;
        payload.issues.push({
            expected: "string",
            code: "invalid_type",
            input: payload.value,
            inst,
        });
        return payload;
    };
});
const $ZodStringFormat = /*@__PURE__*/ $constructor("$ZodStringFormat", (inst, def) => {
    // check initialization must come first
    $ZodCheckStringFormat.init(inst, def);
    $ZodString.init(inst, def);
});
const $ZodGUID = /*@__PURE__*/ $constructor("$ZodGUID", (inst, def) => {
    def.pattern ?? (def.pattern = guid);
    $ZodStringFormat.init(inst, def);
});
const $ZodUUID = /*@__PURE__*/ $constructor("$ZodUUID", (inst, def) => {
    if (def.version) {
        const versionMap = {
            v1: 1,
            v2: 2,
            v3: 3,
            v4: 4,
            v5: 5,
            v6: 6,
            v7: 7,
            v8: 8,
        };
        const v = versionMap[def.version];
        if (v === undefined)
            throw new Error(`Invalid UUID version: "${def.version}"`);
        def.pattern ?? (def.pattern = uuid(v));
    }
    else
        def.pattern ?? (def.pattern = uuid());
    $ZodStringFormat.init(inst, def);
});
const $ZodEmail = /*@__PURE__*/ $constructor("$ZodEmail", (inst, def) => {
    def.pattern ?? (def.pattern = email);
    $ZodStringFormat.init(inst, def);
});
/** The `://` guard rejected the input before the URL constructor saw it. */
const URL_BAD_FORMAT = 1;
/** The URL parser rejected the input. */
const URL_UNPARSEABLE = 2;
function canParseURL(input) {
    try {
        if (typeof URL !== "undefined" && typeof URL.canParse === "function")
            return URL.canParse(input);
        new URL(input);
        return true;
    }
    catch {
        return false;
    }
}
function validateURL(trimmed, def) {
    if (!("normalize" in def) && !("hostname" in def) && !("protocol" in def)) {
        return canParseURL(trimmed) || URL_UNPARSEABLE;
    }
    return parseURLObject(trimmed, def);
}
/** Parses a URL while preserving the non-normalizing HTTP guard. */
function parseURLObject(trimmed, def) {
    // When normalize is off, require :// for http/https URLs. This prevents strings like "http:example.com" or "https:/path" from being silently accepted
    if (!def.normalize && def.protocol?.source === httpProtocol.source && !/^https?:\/\//i.test(trimmed)) {
        return URL_BAD_FORMAT;
    }
    try {
        if (typeof URL !== "undefined") {
            const URLStatic = URL;
            if (typeof URLStatic.parse === "function")
                return URLStatic.parse(trimmed) ?? URL_UNPARSEABLE;
        }
        // @ts-ignore
        return new URL(trimmed);
    }
    catch {
        return URL_UNPARSEABLE;
    }
}
const asciiTabOrNewline = /[\t\n\r]/g;
/** The URL parser deletes every ASCII tab, LF and CR from its input before it parses, so `new URL("https://exa\nmple.com")` reports on `example.com`. Applying the same deletion to the returned value closes the half of that divergence which can move the host; the parser's other rewrite, stripping C0 controls at the edges, cannot. */
function stripTabAndNewline(value) {
    return value.replace(asciiTabOrNewline, "");
}
function urlHostnameOk(url, hostname) {
    hostname.lastIndex = 0;
    return hostname.test(url.hostname);
}
function urlProtocolOk(url, protocol) {
    protocol.lastIndex = 0;
    return protocol.test(url.protocol.endsWith(":") ? url.protocol.slice(0, -1) : url.protocol);
}
const $ZodURL = /*@__PURE__*/ $constructor("$ZodURL", (inst, def) => {
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        try {
            // Trim whitespace from input
            const trimmed = payload.value.trim();
            const url = validateURL(trimmed, def);
            if (url === URL_BAD_FORMAT) {
                payload.issues.push({
                    code: "invalid_format",
                    format: "url",
                    note: "Invalid URL format",
                    input: payload.value,
                    inst,
                    continue: !def.abort,
                });
                return;
            }
            if (url === URL_UNPARSEABLE) {
                payload.issues.push({
                    code: "invalid_format",
                    format: "url",
                    input: payload.value,
                    inst,
                    continue: !def.abort,
                });
                return;
            }
            if (url === true) {
                payload.value = stripTabAndNewline(trimmed);
                return;
            }
            if (def.hostname && !urlHostnameOk(url, def.hostname)) {
                payload.issues.push({
                    code: "invalid_format",
                    format: "url",
                    note: "Invalid hostname",
                    pattern: def.hostname.source,
                    input: payload.value,
                    inst,
                    continue: !def.abort,
                });
            }
            if (def.protocol && !urlProtocolOk(url, def.protocol)) {
                payload.issues.push({
                    code: "invalid_format",
                    format: "url",
                    note: "Invalid protocol",
                    pattern: def.protocol.source,
                    input: payload.value,
                    inst,
                    continue: !def.abort,
                });
            }
            // Set the output value based on normalize flag
            payload.value = def.normalize ? url.href : stripTabAndNewline(trimmed);
            return;
        }
        catch (_) {
            payload.issues.push({
                code: "invalid_format",
                format: "url",
                input: payload.value,
                inst,
                continue: !def.abort,
            });
        }
    };
});
const $ZodEmoji = /*@__PURE__*/ $constructor("$ZodEmoji", (inst, def) => {
    def.pattern ?? (def.pattern = emoji());
    $ZodStringFormat.init(inst, def);
});
const $ZodNanoID = /*@__PURE__*/ $constructor("$ZodNanoID", (inst, def) => {
    if (def.length !== undefined && (!Number.isInteger(def.length) || def.length < 1))
        throw new Error(`Invalid nanoid length: ${def.length}`);
    def.pattern ?? (def.pattern = def.length === undefined ? nanoid : nanoidOfLength(def.length));
    $ZodStringFormat.init(inst, def);
});
/**
 * @deprecated CUID v1 is deprecated by its authors due to information leakage
 * (timestamps embedded in the id). Use {@link $ZodCUID2} instead.
 * See https://github.com/paralleldrive/cuid.
 */
const $ZodCUID = /*@__PURE__*/ $constructor("$ZodCUID", (inst, def) => {
    def.pattern ?? (def.pattern = cuid);
    $ZodStringFormat.init(inst, def);
});
const $ZodCUID2 = /*@__PURE__*/ $constructor("$ZodCUID2", (inst, def) => {
    def.pattern ?? (def.pattern = cuid2);
    $ZodStringFormat.init(inst, def);
});
const $ZodULID = /*@__PURE__*/ $constructor("$ZodULID", (inst, def) => {
    def.pattern ?? (def.pattern = ulid);
    $ZodStringFormat.init(inst, def);
});
const $ZodXID = /*@__PURE__*/ $constructor("$ZodXID", (inst, def) => {
    def.pattern ?? (def.pattern = xid);
    $ZodStringFormat.init(inst, def);
});
const $ZodKSUID = /*@__PURE__*/ $constructor("$ZodKSUID", (inst, def) => {
    def.pattern ?? (def.pattern = ksuid);
    $ZodStringFormat.init(inst, def);
});
const $ZodISODateTime = /*@__PURE__*/ $constructor("$ZodISODateTime", (inst, def) => {
    def.pattern ?? (def.pattern = datetime$1(def));
    $ZodStringFormat.init(inst, def);
});
const $ZodISODate = /*@__PURE__*/ $constructor("$ZodISODate", (inst, def) => {
    def.pattern ?? (def.pattern = date);
    $ZodStringFormat.init(inst, def);
});
const $ZodISOTime = /*@__PURE__*/ $constructor("$ZodISOTime", (inst, def) => {
    def.pattern ?? (def.pattern = time(def));
    $ZodStringFormat.init(inst, def);
});
const $ZodISODuration = /*@__PURE__*/ $constructor("$ZodISODuration", (inst, def) => {
    def.pattern ?? (def.pattern = duration);
    $ZodStringFormat.init(inst, def);
});
const $ZodIPv4 = /*@__PURE__*/ $constructor("$ZodIPv4", (inst, def) => {
    def.pattern ?? (def.pattern = ipv4);
    $ZodStringFormat.init(inst, def);
});
/** An IPv6 address is written with hex digits, colons and dots, and nothing else. The guard is what makes the check below an IPv6 check: `new URL("http://[...]")` parses an authority, not an address, so `@` and `\` re-delimit it and `"::@1\\"` validates against the host `0.0.0.1`. The URL parser also deletes ASCII tab, LF and CR rather than failing, which is how `"::1\n"` validated as `::1`. */
const ipv6Alphabet = /^[0-9a-fA-F:.]+$/;
function isValidIPv6(value) {
    if (!ipv6Alphabet.test(value))
        return false;
    return canParseURL(`http://[${value}]`);
}
const $ZodIPv6 = /*@__PURE__*/ $constructor("$ZodIPv6", (inst, def) => {
    def.pattern ?? (def.pattern = ipv6);
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        if (!isValidIPv6(payload.value)) {
            payload.issues.push({
                code: "invalid_format",
                format: "ipv6",
                input: payload.value,
                inst,
                continue: !def.abort,
            });
        }
    };
});
const $ZodCIDRv4 = /*@__PURE__*/ $constructor("$ZodCIDRv4", (inst, def) => {
    def.pattern ?? (def.pattern = cidrv4);
    $ZodStringFormat.init(inst, def);
});
function isValidCIDRv6(value) {
    const parts = value.split("/");
    if (parts.length !== 2)
        return false;
    const [address, prefix] = parts;
    if (!prefix)
        return false;
    const prefixNum = Number(prefix);
    if (`${prefixNum}` !== prefix)
        return false;
    if (prefixNum < 0 || prefixNum > 128)
        return false;
    return isValidIPv6(address);
}
const $ZodCIDRv6 = /*@__PURE__*/ $constructor("$ZodCIDRv6", (inst, def) => {
    def.pattern ?? (def.pattern = cidrv6); // not used for validation
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        if (!isValidCIDRv6(payload.value)) {
            payload.issues.push({
                code: "invalid_format",
                format: "cidrv6",
                input: payload.value,
                inst,
                continue: !def.abort,
            });
        }
    };
});
//////////////////////////////   ZodBase64   //////////////////////////////
function isValidBase64(data) {
    if (data === "")
        return true;
    // atob ignores whitespace, so reject it up front.
    if (/\s/.test(data))
        return false;
    if (data.length % 4 !== 0)
        return false;
    try {
        // @ts-ignore
        atob(data);
        return true;
    }
    catch {
        return false;
    }
}
// lax on purpose: the quantified regexes.base64 overflows the regex stack on multi-MB input and its leading ^$| alternation leaks through template-literal composition; isValidBase64 enforces length and padding
const base64Charset = /^[0-9a-zA-Z+/]*={0,2}$/;
const $ZodBase64 = /*@__PURE__*/ $constructor("$ZodBase64", (inst, def) => {
    def.pattern ?? (def.pattern = base64Charset);
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        if (isValidBase64(payload.value))
            return;
        payload.issues.push({
            code: "invalid_format",
            format: "base64",
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
//////////////////////////////   ZodBase64URL   //////////////////////////////
// lax on purpose: the quantified regexes.base64url overflows the regex stack on multi-MB input; isValidBase64 enforces length on the padded string
const base64urlCharset = /^[A-Za-z0-9_-]*$/;
function isValidBase64URL(data) {
    if (!base64urlCharset.test(data))
        return false;
    const base64 = data.replace(/[-_]/g, (c) => (c === "-" ? "+" : "/"));
    const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, "=");
    return isValidBase64(padded);
}
const $ZodBase64URL = /*@__PURE__*/ $constructor("$ZodBase64URL", (inst, def) => {
    def.pattern ?? (def.pattern = base64urlCharset);
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        if (isValidBase64URL(payload.value))
            return;
        payload.issues.push({
            code: "invalid_format",
            format: "base64url",
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodE164 = /*@__PURE__*/ $constructor("$ZodE164", (inst, def) => {
    def.pattern ?? (def.pattern = e164);
    $ZodStringFormat.init(inst, def);
});
//////////////////////////////   ZodJWT   //////////////////////////////
function isValidJWT(token, algorithm = null) {
    try {
        const tokensParts = token.split(".");
        if (tokensParts.length !== 3)
            return false;
        const [header] = tokensParts;
        if (!header)
            return false;
        // @ts-ignore
        const parsedHeader = JSON.parse(atob(header));
        if ("typ" in parsedHeader && parsedHeader?.typ !== "JWT")
            return false;
        if (!parsedHeader.alg)
            return false;
        if (algorithm && (!("alg" in parsedHeader) || parsedHeader.alg !== algorithm))
            return false;
        return true;
    }
    catch {
        return false;
    }
}
const $ZodJWT = /*@__PURE__*/ $constructor("$ZodJWT", (inst, def) => {
    $ZodStringFormat.init(inst, def);
    inst._zod.check = (payload) => {
        if (isValidJWT(payload.value, def.alg))
            return;
        payload.issues.push({
            code: "invalid_format",
            format: "jwt",
            input: payload.value,
            inst,
            continue: !def.abort,
        });
    };
});
const $ZodNumber = /*@__PURE__*/ $constructor("$ZodNumber", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.pattern = number$1;
    inst._zod.parse = (payload, _ctx) => {
        if (def.coerce)
            try {
                payload.value = Number(payload.value);
            }
            catch (_) { }
        const input = payload.value;
        if (typeof input === "number" && !Number.isNaN(input) && Number.isFinite(input)) {
            return payload;
        }
        const received = typeof input === "number"
            ? Number.isNaN(input)
                ? "NaN"
                : !Number.isFinite(input)
                    ? String(input)
                    : undefined
            : undefined;
        payload.issues.push({
            expected: "number",
            code: "invalid_type",
            input,
            inst,
            ...(received ? { received } : {}),
        });
        return payload;
    };
});
const $ZodNumberFormat = /*@__PURE__*/ $constructor("$ZodNumberFormat", (inst, def) => {
    $ZodCheckNumberFormat.init(inst, def);
    $ZodNumber.init(inst, def); // no format checks
});
const $ZodBoolean = /*@__PURE__*/ $constructor("$ZodBoolean", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.pattern = boolean$1;
    inst._zod.parse = (payload, _ctx) => {
        if (def.coerce)
            try {
                payload.value = Boolean(payload.value);
            }
            catch (_) { }
        const input = payload.value;
        if (typeof input === "boolean")
            return payload;
        payload.issues.push({
            expected: "boolean",
            code: "invalid_type",
            input,
            inst,
        });
        return payload;
    };
});
const $ZodUnknown = /*@__PURE__*/ $constructor("$ZodUnknown", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.parse = (payload) => payload;
});
const $ZodNever = /*@__PURE__*/ $constructor("$ZodNever", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.parse = (payload, _ctx) => {
        payload.issues.push({
            expected: "never",
            code: "invalid_type",
            input: payload.value,
            inst,
        });
        return payload;
    };
});
// an oversized container fails its leading size checks before any element is parsed
function capSize(inst, size) {
    const caps = sizeCaps(inst._zod.def.checks);
    if (!caps.length)
        return;
    const cap = Math.min(...caps.map((c) => c[0]));
    const parse = inst._zod.parse;
    inst._zod.parse = (payload, ctx) => {
        const n = size(payload.value);
        if (n > cap && !ctx?.skipChecks && ctx?.direction !== "backward") {
            for (const [max, ch] of sizeCaps(inst._zod.def.checks)) {
                if (n > max && ch._zod.def.when(payload)) {
                    const start = payload.issues.length;
                    ch._zod.check(payload);
                    // the value is still the raw input, so no later check may read it
                    payload.issues[start].continue = false;
                    attachSchema(payload.issues, start, inst);
                    return payload;
                }
            }
        }
        return parse(payload, ctx);
    };
}
const arraySize = (input) => (Array.isArray(input) ? input.length : -1);
function handleArrayResult(result, final, index) {
    if (result.issues.length) {
        final.issues.push(...prefixIssues(index, result.issues));
    }
    final.value[index] = result.value;
}
const $ZodArray = /*@__PURE__*/ $constructor("$ZodArray", (inst, def) => {
    $ZodType.init(inst, def);
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        if (!Array.isArray(input)) {
            payload.issues.push({
                expected: "array",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        payload.value = memo ? memo.alloc(inst, payload, Array(input.length), ctx) : Array(input.length);
        const proms = [];
        const abortEarly = ctx?.abortEarly;
        for (let i = 0; i < input.length; i++) {
            const item = input[i];
            const result = def.element._zod.run({
                value: item,
                issues: [],
            }, ctx);
            if (result instanceof Promise) {
                proms.push(result.then((result) => handleArrayResult(result, payload, i)));
            }
            else {
                handleArrayResult(result, payload, i);
                // the element's payload is authoritative here, since handleArrayResult forwards every issue; an object's is not, because it drops a failed absent optional
                if (abortEarly && result.issues.length !== 0 && aborted(result))
                    break;
            }
        }
        if (proms.length) {
            return Promise.all(proms).then(() => payload);
        }
        return payload; //handleArrayResultsAsync(parseResults, final);
    };
    capSize(inst, arraySize);
});
function handlePropertyResult(result, final, key, input, optin, optout) {
    const isPresent = key in input;
    const isOptionalOut = optout === "optional";
    // The middle rung means "absence permitted, nothing supplied in its place", so an absent key contributes nothing — whatever the schema made of `undefined` is invented, not substituted. Only `optional` reaches this with a value: `defaulted` substitutes, and a schema that isn't optional-out has to keep the key.
    if (!isPresent && isOptionalOut && optin === "optional") {
        return;
    }
    if (result.issues.length) {
        // For optional-in/out schemas, ignore errors on absent keys.
        if (optin !== undefined && isOptionalOut && !isPresent) {
            return;
        }
        final.issues.push(...prefixIssues(key, result.issues));
    }
    if (!isPresent && optin === undefined) {
        if (!result.issues.length) {
            final.issues.push({
                code: "invalid_type",
                expected: "nonoptional",
                input: undefined,
                path: [key],
            });
        }
        return;
    }
    if (result.value === undefined) {
        if (isPresent || (optin === "defaulted" && !isOptionalOut)) {
            final.value[key] = undefined;
        }
    }
    else {
        final.value[key] = result.value;
    }
}
// one shared instance; a fresh [] per schema cost 56 bytes retained
const NO_SYMBOL_KEYS = [];
function normalizeDef(def) {
    const keys = Object.keys(def.shape);
    const ownSymbols = Object.getOwnPropertySymbols(def.shape);
    const symbolKeys = ownSymbols.length ? ownSymbols : NO_SYMBOL_KEYS;
    // aliases `keys` when there are no symbols, so a string-only shape keeps one array
    const allKeys = symbolKeys.length ? [...keys, ...symbolKeys] : keys;
    for (const k of allKeys) {
        if (!def.shape?.[k]?._zod?.traits?.has("$ZodType")) {
            throw new Error(`Invalid element at key "${String(k)}": expected a Zod schema`);
        }
    }
    const okeys = optionalKeys(def.shape);
    return {
        ...def,
        allKeys,
        symbolKeys,
        // string-only: handleCatchall matches it against `for...in`, which never yields a symbol
        keySet: new Set(keys),
        numKeys: keys.length,
        optionalKeys: new Set(okeys),
    };
}
function handleCatchall(proms, input, payload, ctx, def, inst, abortEarly) {
    const unrecognized = [];
    const keySet = def.keySet;
    const _catchall = def.catchall._zod;
    const t = _catchall.def.type;
    const optin = _catchall.optin;
    const optout = _catchall.optout;
    // starts at 0, not the current length: the shape phase already ran and may have aborted
    let seen = 0;
    for (const key in input) {
        if (abortEarly && payload.issues.length !== seen) {
            if (aborted(payload, seen))
                break;
            seen = payload.issues.length;
        }
        // Must precede the __proto__ branch: a declared key is not unrecognized, even though the shape loop deliberately strips __proto__ from the parsed output.
        if (keySet.has(key))
            continue;
        // Don't copy an undeclared __proto__ into the result; assignment to a plain {} would replace the result prototype. But in strict mode it is still an unknown key, so report it before skipping.
        if (key === "__proto__") {
            if (t === "never")
                unrecognized.push(key);
            continue;
        }
        if (t === "never") {
            unrecognized.push(key);
            continue;
        }
        const r = _catchall.run({ value: input[key], issues: [] }, ctx);
        if (r instanceof Promise) {
            proms.push(r.then((r) => handlePropertyResult(r, payload, key, input, optin, optout)));
        }
        else {
            handlePropertyResult(r, payload, key, input, optin, optout);
        }
    }
    if (unrecognized.length) {
        payload.issues.push({
            code: "unrecognized_keys",
            keys: unrecognized,
            input,
            inst,
            // Describes the shape of the input, not the validity of the parsed value, so it never aborts. The parse still fails; the schema's own checks just get to run first, and an enclosing intersection can reconcile the key against a sibling operand.
            continue: true,
        });
    }
    if (!proms.length)
        return payload;
    return Promise.all(proms).then(() => {
        return payload;
    });
}
const $ZodObject = /*@__PURE__*/ $constructor("$ZodObject", (inst, def) => {
    // requires cast because technically $ZodObject doesn't extend
    $ZodType.init(inst, def);
    const desc = Object.getOwnPropertyDescriptor(def, "shape");
    // a cloned def carries its source's accessor, which knows the shape it answers from; adopting that keeps the clone's keys readable without running it
    const sh = desc?.get ? desc.get.raw : (def.shape ?? {});
    if (sh) {
        // Freezes the shape on first read, so its getters resolve once and every later read sees the same schemas.
        const get = () => {
            const newSh = { ...sh };
            Object.defineProperty(def, "shape", { value: newSh });
            get.raw = newSh;
            return newSh;
        };
        get.raw = sh;
        Object.defineProperty(def, "shape", { get });
    }
    const _normalized = cached(() => normalizeDef(def));
    defineLazyInternal(inst, "propValues", (zod) => {
        const shape = zod.def.shape;
        const propValues = {};
        for (const key in shape) {
            const field = shape[key]._zod;
            if (field.values) {
                if (!Object.prototype.hasOwnProperty.call(propValues, key)) {
                    assignProp(propValues, key, new Set());
                }
                for (const v of field.values)
                    propValues[key].add(v);
                // An omittable slot reads back as undefined at a discriminator lookup, so it has to claim undefined: two options that can both omit the key are not discriminable on it.
                if (field.optin !== undefined)
                    propValues[key].add(undefined);
            }
        }
        return propValues;
    });
    const isObject$1 = isObject;
    const catchall = def.catchall;
    let value;
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        value ?? (value = _normalized.value);
        const input = payload.value;
        if (!isObject$1(input)) {
            payload.issues.push({
                expected: "object",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
        const proms = [];
        const shape = value.shape;
        const abortEarly = ctx?.abortEarly;
        let seen = payload.issues.length;
        for (const key of value.allKeys) {
            if (abortEarly && payload.issues.length !== seen) {
                if (aborted(payload, seen))
                    break;
                seen = payload.issues.length;
            }
            if (key === "__proto__")
                continue;
            const el = shape[key];
            const optin = el._zod.optin;
            const optout = el._zod.optout;
            const r = el._zod.run({ value: input[key], issues: [] }, ctx);
            if (r instanceof Promise) {
                proms.push(r.then((r) => handlePropertyResult(r, payload, key, input, optin, optout)));
            }
            else {
                handlePropertyResult(r, payload, key, input, optin, optout);
            }
        }
        if (!catchall) {
            return proms.length ? Promise.all(proms).then(() => payload) : payload;
        }
        return handleCatchall(proms, input, payload, ctx, _normalized.value, inst, abortEarly === true);
    };
});
const $ZodObjectJIT = /*@__PURE__*/ $constructor("$ZodObjectJIT", (inst, def) => {
    // requires cast because technically $ZodObject doesn't extend
    $ZodObject.init(inst, def);
    const superParse = inst._zod.parse;
    const _normalized = cached(() => normalizeDef(def));
    const memo = globalConfig.memoizer;
    const generateFastpass = (shape) => {
        const normalized = _normalized.value;
        const syms = normalized.symbolKeys;
        // a symbol has no source literal, so it is read as `syms[i]` off the closed-over scope
        const doc = new Doc(["payload", "ctx"], { shape, inst, memo, syms });
        const parseStr = (k) => `shape[${k}]._zod.run({ value: input[${k}], issues: [] }, ctx)`;
        // prefixes in place, like util.prefixIssues. newResult must land before the early return: a catchall runs after this and would otherwise write onto the caller's input
        const prefixStr = (id, k) => `
          let ${id}_ab = false;
          for (let i = 0; i < ${id}.issues.length; i++) {
            const iss = ${id}.issues[i];
            iss.path = iss.path ? [${k}, ...iss.path] : [${k}];
            payload.issues.push(iss);
            if (iss.continue !== true) ${id}_ab = true;
          }
          if (${id}_ab && ctx && ctx.abortEarly) {
            payload.value = newResult;
            return payload;
          }`;
        doc.write(`const input = payload.value;`);
        const ids = Object.create(null);
        let counter = 0;
        for (const key of normalized.allKeys) {
            ids[key] = `key_${counter++}`;
        }
        // A: preserve key order {
        doc.write(memo ? `const newResult = memo.alloc(inst, payload, {}, ctx);` : `const newResult = {};`);
        for (const key of normalized.allKeys) {
            if (key === "__proto__")
                continue;
            const id = ids[key];
            const k = typeof key === "symbol" ? `syms[${syms.indexOf(key)}]` : esc(key);
            const isPresent = `${k} in input`;
            const schema = shape[key];
            const optin = schema?._zod?.optin;
            const isOptionalIn = optin !== undefined;
            const isOptionalOut = schema?._zod?.optout === "optional";
            doc.write(`const ${id} = ${parseStr(k)};`);
            if (isOptionalIn && isOptionalOut) {
                // For optional-in/out schemas, ignore errors on absent keys — and, like the interpreted path, drop the value produced alongside them. The middle rung goes further: it permits absence without supplying anything in its place, so an absent key contributes nothing at all.
                const assign = optin === "optional" ? `${id}_present` : `${id}.value !== undefined || ${id}_present`;
                doc.write(`
        const ${id}_present = ${isPresent};
        if (!${id}.issues.length || ${id}_present) {
          if (${id}.issues.length) {${prefixStr(id, k)}
          }

          if (${assign}) {
            newResult[${k}] = ${id}.value;
          }
        }

      `);
            }
            else if (!isOptionalIn) {
                doc.write(`
        const ${id}_present = ${isPresent};
        if (${id}.issues.length) {${prefixStr(id, k)}
        }
        if (!${id}_present && !${id}.issues.length) {
          payload.issues.push({
            code: "invalid_type",
            expected: "nonoptional",
            input: undefined,
            path: [${k}]
          });
          if (ctx && ctx.abortEarly) {
            payload.value = newResult;
            return payload;
          }
        }

        if (${id}_present) {
          newResult[${k}] = ${id}.value;
        }

      `);
            }
            else {
                doc.write(`
        if (${id}.issues.length) {${prefixStr(id, k)}
        }
      `);
                if (optin === "defaulted") {
                    doc.write(`newResult[${k}] = ${id}.value;`);
                }
                else {
                    doc.write(`
        if (${id}.value !== undefined || ${isPresent}) {
          newResult[${k}] = ${id}.value;
        }
      `);
                }
            }
        }
        doc.write(`payload.value = newResult;`);
        doc.write(`return payload;`);
        // closing `shape` in is what pays: turbofan specializes the parser against that one shape object, so every `shape[k]._zod.run` folds to a known callee. as a parameter it stays a generic load and measures 13% slower even with the forwarding frame gone
        return doc.compile();
    };
    let fastpass;
    const isObject$1 = isObject;
    const jit = !globalConfig.jitless;
    const allowsEval$1 = allowsEval;
    const fastEnabled = jit && allowsEval$1.value; // && !def.catchall;
    const catchall = def.catchall;
    let value;
    inst._zod.parse = (payload, ctx) => {
        value ?? (value = _normalized.value);
        const input = payload.value;
        if (!isObject$1(input)) {
            payload.issues.push({
                expected: "object",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        if (jit && fastEnabled && ctx?.async === false && ctx.jitless !== true) {
            // always synchronous
            if (!fastpass)
                fastpass = generateFastpass(def.shape);
            payload = fastpass(payload, ctx);
            if (!catchall)
                return payload;
            return handleCatchall([], input, payload, ctx, value, inst, ctx?.abortEarly === true);
        }
        return superParse(payload, ctx);
    };
});
function handleUnionResults(results, final, inst, ctx) {
    for (const result of results) {
        if (result.issues.length === 0) {
            final.value = result.value;
            return final;
        }
    }
    const nonaborted = results.filter((r) => !aborted(r));
    if (nonaborted.length === 1) {
        final.value = nonaborted[0].value;
        return nonaborted[0];
    }
    final.issues.push({
        code: "invalid_union",
        input: final.value,
        inst,
        errors: results.map((result) => result.issues.map((iss) => finalizeIssue(iss, ctx, config()))),
    });
    return final;
}
const $ZodUnion = /*@__PURE__*/ $constructor("$ZodUnion", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "optin", (zod) => zod.def.options.some((o) => o._zod.optin === "defaulted")
        ? "defaulted"
        : zod.def.options.some((o) => o._zod.optin !== undefined)
            ? "optional"
            : undefined);
    defineLazyInternal(inst, "optout", (zod) => zod.def.options.some((o) => o._zod.optout === "optional") ? "optional" : undefined);
    defineLazyInternal(inst, "values", (zod) => {
        if (zod.def.options.every((o) => o._zod.values)) {
            return new Set(zod.def.options.flatMap((option) => Array.from(option._zod.values)));
        }
        return undefined;
    });
    defineLazyInternal(inst, "pattern", (zod) => {
        if (zod.def.options.every((o) => o._zod.pattern)) {
            const patterns = zod.def.options.map((o) => o._zod.pattern);
            return new RegExp(`^(${patterns.map((p) => cleanRegex(p.source)).join("|")})$`);
        }
        return undefined;
    });
    const first = def.options.length === 1 ? def.options[0]._zod.run : null;
    inst._zod.parse = (payload, ctx) => {
        if (first) {
            return first(payload, ctx);
        }
        let async = false;
        const results = [];
        for (const option of def.options) {
            const result = option._zod.run({
                value: payload.value,
                issues: [],
            }, ctx);
            if (result instanceof Promise) {
                results.push(result);
                async = true;
            }
            else {
                if (result.issues.length === 0)
                    return result;
                results.push(result);
            }
        }
        if (!async)
            return handleUnionResults(results, payload, inst, ctx);
        return Promise.all(results).then((results) => {
            return handleUnionResults(results, payload, inst, ctx);
        });
    };
});
const $ZodIntersection = /*@__PURE__*/ $constructor("$ZodIntersection", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        const left = def.left._zod.run({ value: input, issues: [] }, ctx);
        const right = def.right._zod.run({ value: input, issues: [] }, ctx);
        const async = left instanceof Promise || right instanceof Promise;
        if (async) {
            return Promise.all([left, right]).then(([left, right]) => {
                return handleIntersectionResults(payload, left, right);
            });
        }
        return handleIntersectionResults(payload, left, right);
    };
});
function mergeValues(a, b) {
    // const aType = parse.t(a);
    // const bType = parse.t(b);
    if (a === b) {
        return { valid: true, data: a };
    }
    if (a instanceof Date && b instanceof Date && +a === +b) {
        return { valid: true, data: a };
    }
    if (isPlainObject(a) && isPlainObject(b)) {
        const bKeys = Object.keys(b);
        const sharedKeys = Object.keys(a).filter((key) => bKeys.indexOf(key) !== -1);
        const newObj = { ...a, ...b };
        if (Object.prototype.hasOwnProperty.call(newObj, "__proto__"))
            delete newObj.__proto__;
        for (const key of sharedKeys) {
            if (key === "__proto__")
                continue;
            const sharedValue = mergeValues(a[key], b[key]);
            if (!sharedValue.valid) {
                return {
                    valid: false,
                    mergeErrorPath: [key, ...sharedValue.mergeErrorPath],
                };
            }
            newObj[key] = sharedValue.data;
        }
        return { valid: true, data: newObj };
    }
    if (Array.isArray(a) && Array.isArray(b)) {
        if (a.length !== b.length) {
            return { valid: false, mergeErrorPath: [] };
        }
        const newArray = [];
        for (let index = 0; index < a.length; index++) {
            const itemA = a[index];
            const itemB = b[index];
            const sharedValue = mergeValues(itemA, itemB);
            if (!sharedValue.valid) {
                return {
                    valid: false,
                    mergeErrorPath: [index, ...sharedValue.mergeErrorPath],
                };
            }
            newArray.push(sharedValue.data);
        }
        return { valid: true, data: newArray };
    }
    return { valid: false, mergeErrorPath: [] };
}
function handleIntersectionResults(result, left, right) {
    // Track which side(s) reject each key. A key rejection is reported only when BOTH sides reject it, so a key owned by one branch survives the other's key schema. strictObject reports these as unrecognized_keys; a record with an open key schema reports one invalid_key per key.
    const unrecKeys = new Map();
    let unrecIssue;
    const keyIssues = new Map();
    const collect = (iss, side) => {
        let keys;
        if (iss.code === "unrecognized_keys" && !iss.path?.length) {
            unrecIssue ?? (unrecIssue = iss);
            keys = iss.keys;
        }
        else if (iss.code === "invalid_key" && iss.origin === "record" && iss.path?.length === 1) {
            const k = String(iss.path[0]);
            if (!keyIssues.has(k))
                keyIssues.set(k, iss);
            keys = [k];
        }
        else {
            return false;
        }
        for (const k of keys) {
            if (!unrecKeys.has(k))
                unrecKeys.set(k, {});
            unrecKeys.get(k)[side] = true;
        }
        return true;
    };
    for (const iss of left.issues) {
        if (!collect(iss, "l"))
            result.issues.push(iss);
    }
    for (const iss of right.issues) {
        if (!collect(iss, "r"))
            result.issues.push(iss);
    }
    // Report only keys rejected by BOTH sides
    const bothKeys = [...unrecKeys].filter(([, f]) => f.l && f.r).map(([k]) => k);
    if (bothKeys.length) {
        const aggregated = unrecIssue ? bothKeys.filter((k) => unrecIssue.keys.includes(k)) : [];
        if (aggregated.length)
            result.issues.push({ ...unrecIssue, keys: aggregated });
        for (const k of bothKeys) {
            if (!aggregated.includes(k) && keyIssues.has(k))
                result.issues.push(keyIssues.get(k));
        }
    }
    const merged = mergeValues(left.value, right.value);
    if (!merged.valid) {
        if (aborted(result))
            return result;
        throw new Error(`Unmergable intersection. Error path: ` + `${JSON.stringify(merged.mergeErrorPath)}`);
    }
    result.value = merged.data;
    return result;
}
const $ZodRecord = /*@__PURE__*/ $constructor("$ZodRecord", (inst, def) => {
    $ZodType.init(inst, def);
    const memo = globalConfig.memoizer;
    memo?.attach(inst);
    inst._zod.parse = (payload, ctx) => {
        const input = payload.value;
        if (!isPlainObject(input)) {
            payload.issues.push({
                expected: "record",
                code: "invalid_type",
                input,
                inst,
            });
            return payload;
        }
        // no guard in either loop below: a record's invalid_key aborts but an enclosing intersection can reconcile it, so a stopped loop hides keys the sibling does not own and the intersection then rejects nothing
        const proms = [];
        const values = def.keyType._zod.values;
        if (values && !def.partial) {
            payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
            const recordKeys = new Set();
            for (const key of values) {
                if (typeof key === "string" || typeof key === "number" || typeof key === "symbol") {
                    recordKeys.add(typeof key === "number" ? key.toString() : key);
                    // A declared __proto__ is stripped but is not an unrecognized key.
                    if (key === "__proto__")
                        continue;
                    const keyResult = def.keyType._zod.run({ value: key, issues: [] }, ctx);
                    if (keyResult instanceof Promise) {
                        throw new Error("Async schemas not supported in object keys currently");
                    }
                    if (keyResult.issues.length) {
                        payload.issues.push({
                            code: "invalid_key",
                            origin: "record",
                            issues: keyResult.issues.map((iss) => finalizeIssue(iss, ctx, config())),
                            input: key,
                            path: [key],
                            inst,
                        });
                        continue;
                    }
                    const outKey = keyResult.value;
                    if (outKey === "__proto__")
                        continue;
                    const result = def.valueType._zod.run({ value: input[key], issues: [] }, ctx);
                    if (result instanceof Promise) {
                        proms.push(result.then((result) => {
                            if (result.issues.length) {
                                payload.issues.push(...prefixIssues(key, result.issues));
                            }
                            payload.value[outKey] = result.value;
                        }));
                    }
                    else {
                        if (result.issues.length) {
                            payload.issues.push(...prefixIssues(key, result.issues));
                        }
                        payload.value[outKey] = result.value;
                    }
                }
            }
            let unrecognized;
            for (const key in input) {
                if (!recordKeys.has(key)) {
                    if (def.mode === "loose") {
                        // skip __proto__ so it can't replace the result prototype via the assignment setter on the plain {} we build into
                        if (key === "__proto__")
                            continue;
                        payload.value[key] = input[key];
                    }
                    else {
                        unrecognized = unrecognized ?? [];
                        unrecognized.push(key);
                    }
                }
            }
            if (unrecognized && unrecognized.length > 0) {
                payload.issues.push({
                    code: "unrecognized_keys",
                    input,
                    inst,
                    keys: unrecognized,
                    continue: true,
                });
            }
        }
        else {
            payload.value = memo ? memo.alloc(inst, payload, {}, ctx) : {};
            // An enumerable key schema declares which keys the record owns, so a key outside the set is unrecognized. A non-enumerable one (regex, refine) is a constraint every key must satisfy, so a failing key is invalid. Only the former is reconcilable against the other side of an intersection.
            let unrecognized;
            // Reflect.ownKeys for Symbol-key support; filter non-enumerable to match z.object()
            for (const key of Reflect.ownKeys(input)) {
                if (key === "__proto__")
                    continue;
                if (!Object.prototype.propertyIsEnumerable.call(input, key))
                    continue;
                let keyResult = def.keyType._zod.run({ value: key, issues: [] }, ctx);
                if (keyResult instanceof Promise) {
                    throw new Error("Async schemas not supported in object keys currently");
                }
                // Numeric string fallback: if key is a numeric string and failed, retry with Number(key). This handles z.number(), z.literal([1, 2, 3]), and unions containing numeric literals
                const checkNumericKey = typeof key === "string" && number$1.test(key) && keyResult.issues.length;
                if (checkNumericKey) {
                    const retryResult = def.keyType._zod.run({ value: Number(key), issues: [] }, ctx);
                    if (retryResult instanceof Promise) {
                        throw new Error("Async schemas not supported in object keys currently");
                    }
                    if (retryResult.issues.length === 0) {
                        keyResult = retryResult;
                    }
                }
                if (keyResult.issues.length) {
                    if (def.mode === "loose") {
                        // Pass through unchanged
                        payload.value[key] = input[key];
                    }
                    else if (values) {
                        unrecognized = unrecognized ?? [];
                        unrecognized.push(key);
                    }
                    else {
                        // Default "strict" behavior: error on invalid key
                        payload.issues.push({
                            code: "invalid_key",
                            origin: "record",
                            issues: keyResult.issues.map((iss) => finalizeIssue(iss, ctx, config())),
                            input: key,
                            path: [key],
                            inst,
                        });
                    }
                    continue;
                }
                // the guard above tests the raw input key, but the key schema can normalize an ordinary key into __proto__; re-check the key we actually write under
                const outKey = keyResult.value;
                if (outKey === "__proto__")
                    continue;
                const result = def.valueType._zod.run({ value: input[key], issues: [] }, ctx);
                if (result instanceof Promise) {
                    proms.push(result.then((result) => {
                        if (result.issues.length) {
                            payload.issues.push(...prefixIssues(key, result.issues));
                        }
                        payload.value[outKey] = result.value;
                    }));
                }
                else {
                    if (result.issues.length) {
                        payload.issues.push(...prefixIssues(key, result.issues));
                    }
                    payload.value[outKey] = result.value;
                }
            }
            if (unrecognized && unrecognized.length > 0) {
                payload.issues.push({
                    code: "unrecognized_keys",
                    input,
                    inst,
                    keys: unrecognized,
                    continue: true,
                });
            }
        }
        if (proms.length) {
            return Promise.all(proms).then(() => payload);
        }
        return payload;
    };
});
const $ZodEnum = /*@__PURE__*/ $constructor("$ZodEnum", (inst, def) => {
    $ZodType.init(inst, def);
    const values = getEnumValues(def.entries);
    const valuesSet = new Set(values);
    inst._zod.values = valuesSet;
    defineLazyInternal(inst, "pattern", (zod) => {
        const patternValues = getEnumValues(zod.def.entries).filter((k) => propertyKeyTypes.has(typeof k));
        // unmatchable fallback, RE2-safe: an empty alternation would compile to /^()$/, which matches ""
        return new RegExp(patternValues.length ? `^(${patternValues.map((o) => escapeRegex(o.toString())).join("|")})$` : "^[^\\s\\S]$");
    });
    inst._zod.parse = (payload, _ctx) => {
        const input = payload.value;
        if (valuesSet.has(input)) {
            return payload;
        }
        payload.issues.push({
            code: "invalid_value",
            values,
            input,
            inst,
        });
        return payload;
    };
});
const $ZodTransform = /*@__PURE__*/ $constructor("$ZodTransform", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.optin = "optional";
    globalConfig.memoizer?.guard(inst);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            throw new $ZodEncodeError(inst.constructor.name);
        }
        const _out = def.transform(payload.value, payload);
        if (ctx.async) {
            const output = _out instanceof Promise ? _out : Promise.resolve(_out);
            return output.then((output) => {
                payload.value = output;
                return payload;
            });
        }
        if (_out instanceof Promise) {
            throw new $ZodAsyncError();
        }
        payload.value = _out;
        return payload;
    };
});
function handleOptionalResult(payload, result) {
    // A substituting schema that still failed has no usable answer; yield undefined. Its issues are simply dropped: it ran on a payload of its own, so there is no shared array to truncate and nothing of the caller's to lose with it.
    payload.value = result.issues.length ? undefined : result.value;
    return payload;
}
const $ZodOptional = /*@__PURE__*/ $constructor("$ZodOptional", (inst, def) => {
    $ZodType.init(inst, def);
    // .optional() propagates absence rather than substituting for it, so a defaulted inner keeps its rung.
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType._zod.optin === "defaulted" ? "defaulted" : "optional");
    inst._zod.optout = "optional";
    defineLazyInternal(inst, "values", (zod) => {
        const values = zod.def.innerType._zod.values;
        return values ? new Set([...values, undefined]) : undefined;
    });
    defineLazyInternal(inst, "pattern", (zod) => {
        const pattern = zod.def.innerType._zod.pattern;
        return pattern ? new RegExp(`^(${cleanRegex(pattern.source)})?$`) : undefined;
    });
    inst._zod.parse = (payload, ctx) => {
        if (payload.value === undefined) {
            // Only the top rung substitutes a value for absence; everything else leaves it intact, which is what .optional() means.
            if (def.innerType._zod.optin !== "defaulted")
                return payload;
            // Its own payload, for the same reason $ZodCatch gets one: a pipe forwards an unrecognized key through the caller's issues array, and this must not read that as the substituting schema failing and drop it.
            const result = def.innerType._zod.run({ value: payload.value, issues: [] }, ctx);
            if (result instanceof Promise)
                return result.then((result) => handleOptionalResult(payload, result));
            return handleOptionalResult(payload, result);
        }
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodExactOptional = /*@__PURE__*/ $constructor("$ZodExactOptional", (inst, def) => {
    // Call parent init - inherits optin/optout = "optional"
    $ZodOptional.init(inst, def);
    // Override values/pattern to NOT add undefined
    defineLazyInternal(inst, "values", (zod) => zod.def.innerType._zod.values);
    defineLazyInternal(inst, "pattern", (zod) => zod.def.innerType._zod.pattern);
    // Override parse to just delegate (no undefined handling)
    inst._zod.parse = (payload, ctx) => {
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodNullable = /*@__PURE__*/ $constructor("$ZodNullable", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType._zod.optin);
    defineLazyInternal(inst, "optout", (zod) => zod.def.innerType._zod.optout);
    defineLazyInternal(inst, "pattern", (zod) => {
        const pattern = zod.def.innerType._zod.pattern;
        return pattern ? new RegExp(`^(${cleanRegex(pattern.source)}|null)$`) : undefined;
    });
    defineLazyInternal(inst, "values", (zod) => {
        return zod.def.innerType._zod.values ? new Set([...zod.def.innerType._zod.values, null]) : undefined;
    });
    inst._zod.parse = (payload, ctx) => {
        // Forward direction (decode): allow null to pass through
        if (payload.value === null)
            return payload;
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodDefault = /*@__PURE__*/ $constructor("$ZodDefault", (inst, def) => {
    $ZodType.init(inst, def);
    // inst._zod.qin = "true";
    inst._zod.optin = "defaulted";
    defineLazyInternal(inst, "values", (zod) => zod.def.innerType._zod.values);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            return def.innerType._zod.run(payload, ctx);
        }
        // Forward direction (decode): apply defaults for undefined input
        if (payload.value === undefined) {
            payload.value = def.defaultValue;
            /**
             * $ZodDefault returns the default value immediately in forward direction.
             * It doesn't pass the default value into the validator ("prefault"). There's no reason to pass the default value through validation. The validity of the default is enforced by TypeScript statically. Otherwise, it's the responsibility of the user to ensure the default is valid. In the case of pipes with divergent in/out types, you can specify the default on the `in` schema of your ZodPipe to set a "prefault" for the pipe.   */
            return payload;
        }
        // Forward direction: continue with default handling
        const result = def.innerType._zod.run(payload, ctx);
        if (result instanceof Promise) {
            return result.then((result) => handleDefaultResult(result, def));
        }
        return handleDefaultResult(result, def);
    };
});
function handleDefaultResult(payload, def) {
    if (payload.value === undefined) {
        payload.value = def.defaultValue;
    }
    return payload;
}
const $ZodPrefault = /*@__PURE__*/ $constructor("$ZodPrefault", (inst, def) => {
    $ZodType.init(inst, def);
    inst._zod.optin = "defaulted";
    defineLazyInternal(inst, "values", (zod) => zod.def.innerType._zod.values);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            return def.innerType._zod.run(payload, ctx);
        }
        // Forward direction (decode): apply prefault for undefined input
        if (payload.value === undefined) {
            payload.value = def.defaultValue;
        }
        return def.innerType._zod.run(payload, ctx);
    };
});
const $ZodNonOptional = /*@__PURE__*/ $constructor("$ZodNonOptional", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "values", (zod) => {
        const v = zod.def.innerType._zod.values;
        return v ? new Set([...v].filter((x) => x !== undefined)) : undefined;
    });
    inst._zod.parse = (payload, ctx) => {
        const result = def.innerType._zod.run(payload, ctx);
        if (result instanceof Promise) {
            return result.then((result) => handleNonOptionalResult(result, inst));
        }
        return handleNonOptionalResult(result, inst);
    };
});
function handleNonOptionalResult(payload, inst) {
    if (!payload.issues.length && payload.value === undefined) {
        payload.issues.push({
            code: "invalid_type",
            expected: "nonoptional",
            input: payload.value,
            inst,
        });
    }
    return payload;
}
function handleCatchResult(payload, result, def, ctx) {
    if (!result.issues.length) {
        payload.value = result.value;
        // The value carries up, so the flag describing it has to carry with it: a back-edge into a node still being parsed must not be frozen by an enclosing readonly, and its checks belong to the node itself. Guarded so the ordinary case adds no own property.
        if (result.memo)
            payload.memo = true;
        return payload;
    }
    // Spread the inner's own payload, not ours: `value` has to stay the input the catch was handed, and the inner ran on a payload of its own so its issues are already private to this call.
    payload.value = def.catchValue({
        ...result,
        value: payload.value,
        error: {
            issues: result.issues.map((iss) => finalizeIssue(iss, ctx, config())),
        },
        input: payload.value,
    });
    return payload;
}
const $ZodCatch = /*@__PURE__*/ $constructor("$ZodCatch", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType._zod.optin === "defaulted" ? "defaulted" : "optional");
    defineLazyInternal(inst, "optout", (zod) => zod.def.innerType._zod.optout);
    defineLazyInternal(inst, "values", (zod) => zod.def.innerType._zod.values);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            return def.innerType._zod.run(payload, ctx);
        }
        // Forward direction (decode): apply catch logic
        const result = def.innerType._zod.run({ value: payload.value, issues: [] }, ctx);
        if (result instanceof Promise) {
            return result.then((result) => handleCatchResult(payload, result, def, ctx));
        }
        return handleCatchResult(payload, result, def, ctx);
    };
});
const $ZodPipe = /*@__PURE__*/ $constructor("$ZodPipe", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "values", (zod) => zod.def.in._zod.values);
    defineLazyInternal(inst, "optin", (zod) => zod.def.in._zod.optin);
    defineLazyInternal(inst, "optout", (zod) => zod.def.out._zod.optout);
    defineLazyInternal(inst, "propValues", (zod) => zod.def.in._zod.propValues);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            const right = def.out._zod.run(payload, ctx);
            if (right instanceof Promise) {
                return right.then((right) => handlePipeResult(right, def.in, ctx));
            }
            return handlePipeResult(right, def.in, ctx);
        }
        const left = def.in._zod.run(payload, ctx);
        if (left instanceof Promise) {
            return left.then((left) => handlePipeResult(left, def.out, ctx));
        }
        return handlePipeResult(left, def.out, ctx);
    };
});
function handlePipeResult(left, next, ctx) {
    // Any issue stops the pipe, so a failing refinement never feeds its transform. An unrecognized key is the exception: it describes the input's extra properties, not the value being piped, and an enclosing intersection may yet reconcile it.
    if (left.issues.some((iss) => iss.code !== "unrecognized_keys")) {
        // prevent further checks
        left.aborted = true;
        return left;
    }
    return next._zod.run({ value: left.value, issues: left.issues }, ctx);
}
const $ZodReadonly = /*@__PURE__*/ $constructor("$ZodReadonly", (inst, def) => {
    $ZodType.init(inst, def);
    defineLazyInternal(inst, "propValues", (zod) => zod.def.innerType._zod.propValues);
    defineLazyInternal(inst, "values", (zod) => zod.def.innerType._zod.values);
    defineLazyInternal(inst, "optin", (zod) => zod.def.innerType?._zod?.optin);
    defineLazyInternal(inst, "optout", (zod) => zod.def.innerType?._zod?.optout);
    inst._zod.parse = (payload, ctx) => {
        if (ctx.direction === "backward") {
            return def.innerType._zod.run(payload, ctx);
        }
        const result = def.innerType._zod.run(payload, ctx);
        if (result instanceof Promise) {
            return result.then(handleReadonlyResult);
        }
        return handleReadonlyResult(result);
    };
});
function handleReadonlyResult(payload) {
    // A repeat visit hands back a node that is still being built; freezing it here would make the rest of its keys fail to assign.
    if (!payload.memo)
        payload.value = Object.freeze(payload.value);
    return payload;
}
const $ZodCustom = /*@__PURE__*/ $constructor("$ZodCustom", (inst, def) => {
    $ZodCheck.init(inst, def);
    $ZodType.init(inst, def);
    inst._zod.parse = (payload, _) => {
        return payload;
    };
    inst._zod.check = (payload) => {
        const input = payload.value;
        const r = def.fn(input);
        if (r instanceof Promise) {
            return r.then((r) => handleRefineResult(r, payload, input, inst));
        }
        handleRefineResult(r, payload, input, inst);
        return;
    };
});
function handleRefineResult(result, payload, input, inst) {
    if (!result) {
        const _iss = {
            code: "custom",
            input,
            inst, // incorporates params.error into issue reporting
            path: [...(inst._zod.def.path ?? [])], // incorporates params.error into issue reporting
            continue: !inst._zod.def.abort,
            // params: inst._zod.def.params,
        };
        if (inst._zod.def.params)
            _iss.params = inst._zod.def.params;
        payload.issues.push(issue(_iss));
    }
}

class $ZodCyclicError extends Error {
    constructor() {
        super(`Cannot parse a reference cycle that closes through a transform`);
        this.name = "ZodCyclicError";
    }
}
/** Keyed off the context object every schema in one parse call already shares. */
const STATE = "~memo";
const NO_ISSUES = [];
// a value a cycle can close through
function isRef(value) {
    return value !== null && typeof value === "object";
}
// Receivers prefix paths in place, so the cache and every hand-out need their own copies.
function cloneIssues(issues) {
    return issues.map((iss) => (iss.path ? { ...iss, path: iss.path.slice() } : { ...iss }));
}
const recursive = /*@__PURE__*/ new WeakMap();
/** What the walk established, in order of certainty: ordered so the strongest answer among children wins. */
const NONE = 0;
const ASSUMED = 1;
const PROVEN = 2;
/** Whether this schema's subtree contains a cycle, so one parse can re-enter it. */
function isRecursive(inst, stack, resolve) {
    const cached = recursive.get(inst);
    if (cached !== undefined)
        return cached ? PROVEN : NONE;
    // Relative to the walk in progress, so not cached.
    if (stack.has(inst))
        return PROVEN;
    stack.add(inst);
    let result = NONE;
    const check = (child) => {
        if (result !== PROVEN && child?._zod) {
            const answer = isRecursive(child, stack);
            if (answer > result)
                result = answer;
        }
    };
    // `Reflect.ownKeys` rather than `Object.keys`, so a cycle through a declared symbol key is still seen
    const shape = (sh, spread) => {
        let answer = NONE;
        for (const key of Reflect.ownKeys(sh)) {
            const desc = Object.getOwnPropertyDescriptor(sh, key);
            // an object resolves its shape by spread, so a key it does not enumerate is never parsed; `z.properties` reads every own key and so keeps them all
            if (!desc.enumerable)
                continue;
            // resolving runs user code, and a factory mints a fresh subtree per read, so an edge the walk can't follow counts as a cycle
            const child = desc.get ? ASSUMED : desc.value?._zod ? isRecursive(desc.value, stack) : NONE;
            if (child > answer)
                answer = child;
        }
        return answer;
    };
    const merge = (answer) => {
        if (answer > result)
            result = answer;
    };
    const def = inst._zod.def;
    const kind = def.type;
    switch (kind) {
        case "object": {
            const raw = rawShape(def);
            // a def with no raw shape answers `shape` from an accessor of its own, and running that can mint a whole fresh subtree
            merge(raw ? shape(raw) : ASSUMED);
            check(def.catchall);
            break;
        }
        case "array":
            check(def.element);
            break;
        case "tuple":
            for (const el of def.items)
                check(el);
            check(def.rest);
            break;
        case "record":
        case "map":
            check(def.keyType);
            check(def.valueType);
            break;
        case "set":
            check(def.valueType);
            break;
        case "union":
            for (const el of def.options)
                check(el);
            break;
        case "intersection":
            check(def.left);
            check(def.right);
            break;
        case "optional":
        case "nullable":
        case "default":
        case "prefault":
        case "catch":
        case "readonly":
        case "nonoptional":
        case "promise":
        case "success":
            check(def.innerType);
            break;
        case "pipe":
            check(def.in);
            check(def.out);
            break;
        case "function":
            check(def.input);
            check(def.output);
            break;
        // `$ZodLazy` caches its inner on the def, so a resolved edge is followed exactly
        case "lazy": {
            const inner = def._cachedInner ?? (undefined);
            // walked with resolution off: one hop sees past the deferral, and a lazy that yields only another unresolved lazy is generative, so it stops there
            merge(inner ? isRecursive(inner, stack) : ASSUMED);
            break;
        }
        // a leaf by choice: `parts` are regex fragments, not data positions
        case "template_literal":
        // leaves
        case "string":
        case "number":
        case "int":
        case "boolean":
        case "bigint":
        case "symbol":
        case "undefined":
        case "null":
        case "void":
        case "never":
        case "any":
        case "unknown":
        case "date":
        case "nan":
        case "enum":
        case "literal":
        case "file":
        case "transform":
        case "custom":
            break;
        default: {
            // a user-defined kind can still hold children, and only its author knows where, so fall back to scanning the def — skipping accessors, since reading one can run user code
            for (const key in def) {
                const desc = Object.getOwnPropertyDescriptor(def, key);
                if (!desc || desc.get)
                    continue;
                const value = desc.value;
                if (!value || typeof value !== "object")
                    continue;
                if (value._zod)
                    check(value);
                else if (Array.isArray(value))
                    for (const el of value)
                        check(el);
            }
        }
    }
    stack.delete(inst);
    return settle(inst, result);
}
/** An assumed answer must not outlive the resolution that settles it, so only a certain one is cached. */
function settle(inst, answer) {
    if (answer !== ASSUMED)
        recursive.set(inst, answer === PROVEN);
    return answer;
}
function bucketFor(state, inst) {
    let bucket = state.buckets.get(inst);
    if (!bucket) {
        bucket = new WeakMap();
        state.buckets.set(inst, bucket);
    }
    return bucket;
}
// Set immediately before delegating to core and cleared immediately after, so `alloc` registers only for a visit this module is driving.
let handoff;
// Allocated but unfinished entries. `alloc` and the matching pop both happen in the synchronous part of a parse, so they nest even when children are async, and one stack serves every schema.
const open = [];
const memo = {
    alloc(_inst, payload, empty) {
        const bucket = handoff;
        if (!bucket)
            return empty;
        handoff = undefined;
        const entry = { value: empty, issues: null };
        bucket.set(payload.value, entry);
        open.push(entry);
        return empty;
    },
    guard(inst) {
        var _a;
        (_a = inst._zod).deferred ?? (_a.deferred = []);
        inst._zod.deferred.push(() => {
            const base = inst._zod.parse;
            const wrapped = (payload, ctx) => {
                // The value is a placeholder a back-edge is still waiting on, so the cycle closes through this transform. Its output can't exist in time to bind.
                if (ctx.direction !== "backward" && isBackEdge(ctx, payload.value))
                    throw new $ZodCyclicError();
                return base(payload, ctx);
            };
            inst._zod.parse = wrapped;
            if (inst._zod.run === base)
                inst._zod.run = wrapped;
        });
    },
    attach(inst) {
        var _a;
        let isRecursiveInst;
        let rechecked = false;
        // a recursive schema is re-entered many times per parse and its bucket never changes
        let lastCtx;
        let lastBucket;
        // Wraps `parse` in a deferred so it sees the container's final parse. Core's own deferred copies `parse` into `run` when there are no checks, and it ran first, so `run` is patched to match; with checks, `run` reads `parse` dynamically.
        (_a = inst._zod).deferred ?? (_a.deferred = []);
        inst._zod.deferred.push(() => {
            const base = inst._zod.parse;
            const wrapped = (payload, ctx) => {
                if (isRecursiveInst === undefined) {
                    const walked = isRecursive(inst, new Set());
                    if (walked === NONE) {
                        // Nothing here can ever fire, so take it back out.
                        inst._zod.parse = base;
                        if (inst._zod.run === wrapped)
                            inst._zod.run = base;
                        return base(payload, ctx);
                    }
                    // this parse resolves the deferred edges on its own path, so ask once more before latching
                    if (walked === PROVEN || rechecked)
                        isRecursiveInst = true;
                    else
                        rechecked = true;
                }
                const input = payload.value;
                if (!isRef(input))
                    return base(payload, ctx);
                let state = ctx[STATE];
                if (!state) {
                    state = { buckets: new WeakMap(), backEdges: undefined };
                    ctx[STATE] = state;
                }
                let bucket;
                if (lastCtx === ctx) {
                    bucket = lastBucket;
                }
                else {
                    bucket = bucketFor(state, inst);
                    lastCtx = ctx;
                    lastBucket = bucket;
                }
                const hit = bucket.get(input);
                if (hit) {
                    payload.value = hit.value;
                    if (hit.issues) {
                        if (hit.issues.length)
                            payload.issues.push(...cloneIssues(hit.issues));
                    }
                    else {
                        // Still being parsed: its own checks cover it, so skip them here.
                        payload.memo = true;
                        state.backEdges ?? (state.backEdges = new WeakSet());
                        state.backEdges.add(hit.value);
                    }
                    return payload;
                }
                handoff = bucket;
                const depth = open.length;
                const result = base(payload, ctx);
                handoff = undefined;
                // A container that rejected its input outright allocated nothing.
                const entry = open.length > depth ? open.pop() : undefined;
                // Both paths written out so the sync one allocates no closure. It runs once per node, and capturing here cost more than everything else combined.
                if (result instanceof Promise) {
                    return result.then((r) => {
                        if (entry)
                            entry.issues = r.issues.length ? cloneIssues(r.issues) : NO_ISSUES;
                        return r;
                    });
                }
                if (entry)
                    entry.issues = result.issues.length ? cloneIssues(result.issues) : NO_ISSUES;
                return result;
            };
            inst._zod.parse = wrapped;
            if (inst._zod.run === base)
                inst._zod.run = wrapped;
        });
    },
};
/** The memoizer that gives containers cycle support. `zod` installs it by default; `zod/mini` opts in with `config({ memoizer: memoizer() })`. */
function memoizer() {
    return memo;
}
/** Whether this value is a node a back-edge resolved to before it finished. */
function isBackEdge(ctx, value) {
    const backEdges = ctx[STATE]?.backEdges;
    return backEdges !== undefined && isRef(value) && backEdges.has(value);
}

const error = () => {
    const Sizable = {
        string: { unit: "characters", verb: "to have" },
        file: { unit: "bytes", verb: "to have" },
        array: { unit: "items", verb: "to have" },
        set: { unit: "items", verb: "to have" },
        map: { unit: "entries", verb: "to have" },
    };
    function getSizing(origin) {
        return Sizable[origin] ?? null;
    }
    const FormatDictionary = {
        regex: "input",
        email: "email address",
        url: "URL",
        emoji: "emoji",
        uuid: "UUID",
        uuidv4: "UUIDv4",
        uuidv6: "UUIDv6",
        nanoid: "nanoid",
        guid: "GUID",
        cuid: "cuid",
        cuid2: "cuid2",
        ulid: "ULID",
        xid: "XID",
        ksuid: "KSUID",
        datetime: "ISO datetime",
        date: "ISO date",
        time: "ISO time",
        duration: "ISO duration",
        ipv4: "IPv4 address",
        ipv6: "IPv6 address",
        mac: "MAC address",
        cidrv4: "IPv4 range",
        cidrv6: "IPv6 range",
        base64: "base64-encoded string",
        base64url: "base64url-encoded string",
        json_string: "JSON string",
        e164: "E.164 number",
        currency_code: "currency code",
        credit_card: "credit card number",
        iban: "IBAN",
        jwt: "JWT",
        template_literal: "input",
    };
    // type names: missing keys = do not translate (use raw value via ?? fallback)
    const TypeDictionary = {
        // Compatibility: "nan" -> "NaN" for display
        nan: "NaN",
        // All other type names omitted - they fall back to raw values via ?? operator
    };
    function getTypeName(type, input) {
        if (type === "number" && typeof input === "number" && !Number.isFinite(input)) {
            return String(input);
        }
        return TypeDictionary[type] ?? type;
    }
    return (issue) => {
        switch (issue.code) {
            case "invalid_type": {
                const expected = getTypeName(issue.expected);
                const receivedType = parsedType(issue.input);
                const received = getTypeName(receivedType, issue.input);
                return `Invalid input: expected ${expected}, received ${received}`;
            }
            case "invalid_value":
                if (issue.values.length === 1)
                    return `Invalid input: expected ${stringifyPrimitive(issue.values[0])}`;
                return `Invalid option: expected one of ${joinValues(issue.values, "|")}`;
            case "too_big": {
                const adj = issue.exact ? "exactly " : issue.inclusive ? "<=" : "<";
                const sizing = getSizing(issue.origin);
                if (sizing)
                    return `Too big: expected ${issue.origin ?? "value"} to have ${adj}${issue.maximum.toString()} ${sizing.unit ?? "elements"}`;
                return `Too big: expected ${issue.origin ?? "value"} to be ${adj}${issue.maximum.toString()}`;
            }
            case "too_small": {
                const adj = issue.exact ? "exactly " : issue.inclusive ? ">=" : ">";
                const sizing = getSizing(issue.origin);
                if (sizing) {
                    return `Too small: expected ${issue.origin} to have ${adj}${issue.minimum.toString()} ${sizing.unit}`;
                }
                return `Too small: expected ${issue.origin} to be ${adj}${issue.minimum.toString()}`;
            }
            case "invalid_format": {
                const _issue = issue;
                if (_issue.format === "starts_with") {
                    return `Invalid string: must start with "${_issue.prefix}"`;
                }
                if (_issue.format === "ends_with")
                    return `Invalid string: must end with "${_issue.suffix}"`;
                if (_issue.format === "includes")
                    return `Invalid string: must include "${_issue.includes}"`;
                if (_issue.format === "regex")
                    return `Invalid string: must match pattern ${_issue.pattern}`;
                return `Invalid ${FormatDictionary[_issue.format] ?? issue.format}`;
            }
            case "not_multiple_of":
                return `Invalid number: must be a multiple of ${issue.divisor}`;
            case "unrecognized_keys":
                return `Unrecognized key${issue.keys.length > 1 ? "s" : ""}: ${joinValues(issue.keys, ", ")}`;
            case "invalid_key":
                return `Invalid key in ${issue.origin}`;
            case "invalid_union":
                if (issue.options && Array.isArray(issue.options) && issue.options.length > 0) {
                    const opts = issue.options.map((o) => `'${o}'`).join(" | ");
                    return `Invalid discriminator value. Expected ${opts}`;
                }
                if (issue.inclusive === false) {
                    return "Invalid input: more than one option matched";
                }
                return "Invalid input";
            case "invalid_element":
                return `Invalid value in ${issue.origin}`;
            default:
                return `Invalid input`;
        }
    };
};
function en () {
    return {
        localeError: error(),
    };
}

var _a;
class $ZodRegistry {
    constructor() {
        this._map = new WeakMap();
        this._idmap = new Map();
    }
    add(schema, ..._meta) {
        const meta = _meta[0];
        this._map.set(schema, meta);
        if (meta && typeof meta === "object" && "id" in meta) {
            this._idmap.set(meta.id, schema);
        }
        return this;
    }
    clear() {
        this._map = new WeakMap();
        this._idmap = new Map();
        return this;
    }
    remove(schema) {
        const meta = this._map.get(schema);
        if (meta && typeof meta === "object" && "id" in meta) {
            this._idmap.delete(meta.id);
        }
        this._map.delete(schema);
        return this;
    }
    get(schema) {
        // return this._map.get(schema) as any;
        // inherit metadata
        const p = schema._zod.parent;
        if (p) {
            const pm = { ...(this.get(p) ?? {}) };
            delete pm.id; // do not inherit id
            const f = { ...pm, ...this._map.get(schema) };
            return Object.keys(f).length ? f : undefined;
        }
        return this._map.get(schema);
    }
    has(schema) {
        return this._map.has(schema);
    }
}
// registries
function registry() {
    return new $ZodRegistry();
}
(_a = globalThis).__zod_globalRegistry ?? (_a.__zod_globalRegistry = registry());
const globalRegistry = globalThis.__zod_globalRegistry;

function snapshotChecks(def) {
    if (def.checks)
        def.checks = [...def.checks];
    return def;
}
// @__NO_SIDE_EFFECTS__
function _string(Class, params) {
    return new Class(snapshotChecks({ type: "string", ...normalizeParams(params) }));
}
// @__NO_SIDE_EFFECTS__
function _email(Class, params) {
    return new Class({
        type: "string",
        format: "email",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _guid(Class, params) {
    return new Class({
        type: "string",
        format: "guid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _uuid(Class, params) {
    return new Class({
        type: "string",
        format: "uuid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _uuidv4(Class, params) {
    return new Class({
        type: "string",
        format: "uuid",
        check: "string_format",
        abort: false,
        version: "v4",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _uuidv6(Class, params) {
    return new Class({
        type: "string",
        format: "uuid",
        check: "string_format",
        abort: false,
        version: "v6",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _uuidv7(Class, params) {
    return new Class({
        type: "string",
        format: "uuid",
        check: "string_format",
        abort: false,
        version: "v7",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _url(Class, params) {
    return new Class({
        type: "string",
        format: "url",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _emoji(Class, params) {
    return new Class({
        type: "string",
        format: "emoji",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _nanoid(Class, params) {
    return new Class({
        type: "string",
        format: "nanoid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
/**
 * @deprecated CUID v1 is deprecated by its authors due to information leakage
 * (timestamps embedded in the id). Use {@link _cuid2} instead.
 * See https://github.com/paralleldrive/cuid.
 */
// @__NO_SIDE_EFFECTS__
function _cuid(Class, params) {
    return new Class({
        type: "string",
        format: "cuid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _cuid2(Class, params) {
    return new Class({
        type: "string",
        format: "cuid2",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _ulid(Class, params) {
    return new Class({
        type: "string",
        format: "ulid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _xid(Class, params) {
    return new Class({
        type: "string",
        format: "xid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _ksuid(Class, params) {
    return new Class({
        type: "string",
        format: "ksuid",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _ipv4(Class, params) {
    return new Class({
        type: "string",
        format: "ipv4",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _ipv6(Class, params) {
    return new Class({
        type: "string",
        format: "ipv6",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _cidrv4(Class, params) {
    return new Class({
        type: "string",
        format: "cidrv4",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _cidrv6(Class, params) {
    return new Class({
        type: "string",
        format: "cidrv6",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _base64(Class, params) {
    return new Class({
        type: "string",
        format: "base64",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _base64url(Class, params) {
    return new Class({
        type: "string",
        format: "base64url",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _e164(Class, params) {
    return new Class({
        type: "string",
        format: "e164",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _jwt(Class, params) {
    return new Class({
        type: "string",
        format: "jwt",
        check: "string_format",
        abort: false,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _isoDateTime(Class, params) {
    return new Class({
        type: "string",
        format: "datetime",
        check: "string_format",
        offset: false,
        local: false,
        precision: null,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _isoDate(Class, params) {
    return new Class({
        type: "string",
        format: "date",
        check: "string_format",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _isoTime(Class, params) {
    return new Class({
        type: "string",
        format: "time",
        check: "string_format",
        precision: null,
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _isoDuration(Class, params) {
    return new Class({
        type: "string",
        format: "duration",
        check: "string_format",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _number(Class, params) {
    return new Class(snapshotChecks({ type: "number", checks: [], ...normalizeParams(params) }));
}
// @__NO_SIDE_EFFECTS__
function _int(Class, params) {
    return new Class({
        type: "number",
        check: "number_format",
        abort: false,
        format: "safeint",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _boolean(Class, params) {
    return new Class({
        type: "boolean",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _unknown(Class) {
    return new Class({
        type: "unknown",
    });
}
// @__NO_SIDE_EFFECTS__
function _never(Class, params) {
    return new Class({
        type: "never",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _lt(value, params) {
    return new $ZodCheckLessThan({
        check: "less_than",
        ...normalizeParams(params),
        value,
        inclusive: false,
    });
}
// @__NO_SIDE_EFFECTS__
function _lte(value, params) {
    return new $ZodCheckLessThan({
        check: "less_than",
        ...normalizeParams(params),
        value,
        inclusive: true,
    });
}
// @__NO_SIDE_EFFECTS__
function _gt(value, params) {
    return new $ZodCheckGreaterThan({
        check: "greater_than",
        ...normalizeParams(params),
        value,
        inclusive: false,
    });
}
// @__NO_SIDE_EFFECTS__
function _gte(value, params) {
    return new $ZodCheckGreaterThan({
        check: "greater_than",
        ...normalizeParams(params),
        value,
        inclusive: true,
    });
}
// @__NO_SIDE_EFFECTS__
function _multipleOf(value, params) {
    return new $ZodCheckMultipleOf({
        check: "multiple_of",
        ...normalizeParams(params),
        value,
    });
}
// @__NO_SIDE_EFFECTS__
function _maxLength(maximum, params) {
    const ch = new $ZodCheckMaxLength({
        check: "max_length",
        ...normalizeParams(params),
        maximum,
    });
    return ch;
}
// @__NO_SIDE_EFFECTS__
function _minLength(minimum, params) {
    return new $ZodCheckMinLength({
        check: "min_length",
        ...normalizeParams(params),
        minimum,
    });
}
// @__NO_SIDE_EFFECTS__
function _length(length, params) {
    return new $ZodCheckLengthEquals({
        check: "length_equals",
        ...normalizeParams(params),
        length,
    });
}
// @__NO_SIDE_EFFECTS__
function _regex(pattern, params) {
    return new $ZodCheckRegex({
        check: "string_format",
        format: "regex",
        ...normalizeParams(params),
        pattern,
    });
}
// @__NO_SIDE_EFFECTS__
function _lowercase(params) {
    return new $ZodCheckLowerCase({
        check: "string_format",
        format: "lowercase",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _uppercase(params) {
    return new $ZodCheckUpperCase({
        check: "string_format",
        format: "uppercase",
        ...normalizeParams(params),
    });
}
// @__NO_SIDE_EFFECTS__
function _includes(includes, params) {
    return new $ZodCheckIncludes({
        check: "string_format",
        format: "includes",
        ...normalizeParams(params),
        includes,
    });
}
// @__NO_SIDE_EFFECTS__
function _startsWith(prefix, params) {
    return new $ZodCheckStartsWith({
        check: "string_format",
        format: "starts_with",
        ...normalizeParams(params),
        prefix,
    });
}
// @__NO_SIDE_EFFECTS__
function _endsWith(suffix, params) {
    return new $ZodCheckEndsWith({
        check: "string_format",
        format: "ends_with",
        ...normalizeParams(params),
        suffix,
    });
}
// @__NO_SIDE_EFFECTS__
function _overwrite(tx) {
    return new $ZodCheckOverwrite({
        check: "overwrite",
        tx,
    });
}
// normalize
// @__NO_SIDE_EFFECTS__
function _normalize(form) {
    return _overwrite((input) => input.normalize(form));
}
// trim
// @__NO_SIDE_EFFECTS__
function _trim() {
    return _overwrite((input) => input.trim());
}
// toLowerCase
// @__NO_SIDE_EFFECTS__
function _toLowerCase() {
    return _overwrite((input) => input.toLowerCase());
}
// toUpperCase
// @__NO_SIDE_EFFECTS__
function _toUpperCase() {
    return _overwrite((input) => input.toUpperCase());
}
// slugify
// @__NO_SIDE_EFFECTS__
function _slugify() {
    return _overwrite((input) => slugify(input));
}
// @__NO_SIDE_EFFECTS__
function _array(Class, element, params) {
    return new Class({
        type: "array",
        element,
        // get element() {
        //   return element;
        // },
        ...normalizeParams(params),
    });
}
// same as _custom but defaults to abort:false
// @__NO_SIDE_EFFECTS__
function _refine(Class, fn, _params) {
    const schema = new Class({
        type: "custom",
        check: "custom",
        fn: fn,
        ...normalizeParams(_params),
    });
    return schema;
}
// @__NO_SIDE_EFFECTS__
function _superRefine(fn, params) {
    const ch = _check((payload) => {
        payload.addIssue = (issue$1) => {
            if (typeof issue$1 === "string") {
                payload.issues.push(issue(issue$1, payload.value, ch._zod.def));
            }
            else {
                // for Zod 3 backwards compatibility
                const _issue = issue$1;
                if (_issue.fatal)
                    _issue.continue = false;
                _issue.code ?? (_issue.code = "custom");
                if (!("input" in _issue))
                    _issue.input = payload.value;
                _issue.inst ?? (_issue.inst = ch);
                _issue.continue ?? (_issue.continue = !ch._zod.def.abort); // abort is always undefined, so this is always true...
                payload.issues.push(issue(_issue));
            }
        };
        return fn(payload.value, payload);
    }, params);
    return ch;
}
// @__NO_SIDE_EFFECTS__
function _check(fn, params) {
    const ch = new $ZodCheck({
        check: "custom",
        ...normalizeParams(params),
    });
    ch._zod.check = fn;
    return ch;
}

function assignProps(target, ...sources) {
    for (const source of sources) {
        for (const key of Reflect.ownKeys(source)) {
            if (Object.prototype.propertyIsEnumerable.call(source, key)) {
                assignProp(target, key, source[key]);
            }
        }
    }
    return target;
}
// function initializeContext<T extends schemas.$ZodType>(inputs: JSONSchemaGeneratorParams<T>): ToJSONSchemaContext<T> {
//   return {
//     processor: inputs.processor,
//     metadataRegistry: inputs.metadata ?? globalRegistry,
//     target: inputs.target ?? "draft-2020-12",
//     unrepresentable: inputs.unrepresentable ?? "throw",
//   };
// }
function initializeContext(params) {
    // Normalize target: convert old non-hyphenated versions to hyphenated versions
    let target = params?.target ?? "draft-2020-12";
    if (target === "draft-4")
        target = "draft-04";
    if (target === "draft-7")
        target = "draft-07";
    return {
        processors: params.processors ?? {},
        metadataRegistry: params?.metadata ?? globalRegistry,
        target,
        unrepresentable: params?.unrepresentable ?? "throw",
        override: params?.override ?? (() => { }),
        io: params?.io ?? "output",
        counter: 0,
        seen: new Map(),
        sharedDefsExtractedFor: undefined,
        sharedEmitDoneFor: undefined,
        cycles: params?.cycles ?? "ref",
        reused: params?.reused ?? "inline",
        intersections: [],
        deferred: [],
        external: params?.external ?? undefined,
    };
}
/**
 * Applies the `unrepresentable` setting at a site that has no JSON Schema equivalent. Throws
 * `message` unless the setting (or the handler's return value) says otherwise. Returns `true` if a
 * custom JSON Schema was written into `json`, in which case the caller must not write its own.
 */
function handleUnrepresentable(schema, ctx, json, params, message) {
    const result = typeof ctx.unrepresentable === "function"
        ? ctx.unrepresentable({ zodSchema: schema, path: params.path, message })
        : ctx.unrepresentable;
    if (result === "any")
        return false;
    if (result === undefined || result === "throw")
        throw new Error(message);
    Object.assign(json, result);
    return true;
}
// never rename this back to `process`: bundler polyfills inject a top-level `const process` that a lexical declaration of the same name collides with (#6397)
function processSchema(schema, ctx, _params = { path: [], schemaPath: [] }) {
    var _a;
    const def = schema._zod.def;
    // check for schema in seens
    const seen = ctx.seen.get(schema);
    if (seen) {
        seen.count++;
        // check if cycle
        const isCycle = _params.schemaPath.includes(schema);
        if (isCycle) {
            seen.cycle = _params.path;
        }
        return seen.schema;
    }
    // initialize
    const result = { schema: {}, count: 1, cycle: undefined, path: _params.path };
    ctx.seen.set(schema, result);
    ctx.sharedDefsExtractedFor = undefined;
    ctx.sharedEmitDoneFor = undefined;
    // custom method overrides default behavior
    const overrideSchema = schema._zod.toJSONSchema?.();
    if (overrideSchema) {
        result.schema = overrideSchema;
    }
    else {
        const params = {
            ..._params,
            schemaPath: [..._params.schemaPath, schema],
            path: _params.path,
        };
        if (schema._zod.processJSONSchema) {
            schema._zod.processJSONSchema(ctx, result.schema, params);
        }
        else {
            const _json = result.schema;
            const processor = ctx.processors[def.type];
            if (!processor) {
                throw new Error(`[toJSONSchema]: Non-representable type encountered: ${def.type}`);
            }
            processor(schema, ctx, _json, params);
        }
        const parent = schema._zod.parent;
        if (parent) {
            // Also set ref if processor didn't (for inheritance)
            if (!result.ref)
                result.ref = parent;
            processSchema(parent, ctx, params);
            ctx.seen.get(parent).isParent = true;
        }
    }
    // metadata
    const meta = ctx.metadataRegistry.get(schema);
    if (meta)
        assignProps(result.schema, meta);
    if (ctx.io === "input" && isTransforming(schema)) {
        // examples/defaults only apply to output type of pipe
        delete result.schema.examples;
        delete result.schema.default;
    }
    // set prefault as default
    if (ctx.io === "input" && "_prefault" in result.schema)
        (_a = result.schema).default ?? (_a.default = result.schema._prefault);
    delete result.schema._prefault;
    // pulling fresh from ctx.seen in case it was overwritten
    const _result = ctx.seen.get(schema);
    return _result.schema;
}
// Escape a reference token for use in a JSON Pointer fragment (RFC 6901): `~` becomes `~0` and `/` becomes `~1`. The `~` replacement must run first.
function encodeJSONPointerSegment(segment) {
    return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}
function extractDefs(ctx, schema
// params: EmitParams
) {
    // iterate over seen map;
    const root = ctx.seen.get(schema);
    if (!root)
        throw new Error("Unprocessed schema. This is a bug in Zod.");
    // With `external` set, every registered schema resolves through the external branch of `makeURI`, so the root branch below produces the same ref the external branch would — this pass is identical whichever schema it is called with, and only needs to run once.
    if (ctx.external && ctx.sharedDefsExtractedFor === ctx.external)
        return;
    // Track ids to detect duplicates across different schemas
    const idToSchema = new Map();
    for (const entry of ctx.seen.entries()) {
        const id = ctx.metadataRegistry.get(entry[0])?.id;
        if (id) {
            const existing = idToSchema.get(id);
            if (existing && existing !== entry[0]) {
                throw new Error(`Duplicate schema id "${id}" detected during JSON Schema conversion. Two different schemas cannot share the same id when converted together.`);
            }
            idToSchema.set(id, entry[0]);
        }
    }
    // returns a ref to the schema defId will be empty if the ref points to an external schema (or #)
    const makeURI = (entry) => {
        // comparing the seen objects because sometimes multiple schemas map to the same seen object. e.g. lazy
        // external is configured
        const defsSegment = ctx.target === "draft-2020-12" ? "$defs" : "definitions";
        if (ctx.external) {
            const externalId = ctx.external.registry.get(entry[0])?.id; // ?? "__shared";// `__schema${ctx.counter++}`;
            // check if schema is in the external registry
            const uriGenerator = ctx.external.uri ?? ((id) => id);
            if (externalId) {
                return { ref: uriGenerator(externalId) };
            }
            // otherwise, add to __shared
            const id = entry[1].defId ?? entry[1].schema.id ?? `schema${ctx.counter++}`;
            entry[1].defId = id; // set defId so it will be reused if needed
            return { defId: id, ref: `${uriGenerator("__shared")}#/${defsSegment}/${encodeJSONPointerSegment(id)}` };
        }
        const uriPrefix = `#`;
        const defUriPrefix = `${uriPrefix}/${defsSegment}/`;
        // an id-less root has nowhere to be extracted to, so it stays inline and self-references as `#`
        if (entry[1] === root && !entry[1].schema.id) {
            return { ref: uriPrefix };
        }
        // self-contained schema
        const defId = entry[1].schema.id ?? `__schema${ctx.counter++}`;
        return { defId, ref: defUriPrefix + encodeJSONPointerSegment(defId) };
    };
    // stored cached version in `def` property remove all properties, set $ref
    const extractToDef = (entry) => {
        // if the schema is already a reference, do not extract it
        if (entry[1].schema.$ref) {
            return;
        }
        const seen = entry[1];
        const { ref, defId } = makeURI(entry);
        seen.def = { ...seen.schema };
        // defId won't be set if the schema is a reference to an external schema or if the schema is the root schema
        if (defId)
            seen.defId = defId;
        // wipe away all properties except $ref
        const schema = seen.schema;
        for (const key in schema) {
            delete schema[key];
        }
        schema.$ref = ref;
    };
    // throw on cycles
    // break cycles
    if (ctx.cycles === "throw") {
        for (const entry of ctx.seen.entries()) {
            const seen = entry[1];
            if (seen.cycle) {
                throw new Error("Cycle detected: " +
                    `#/${seen.cycle?.join("/")}/<root>` +
                    '\n\nSet the `cycles` parameter to `"ref"` to resolve cyclical schemas with defs.');
            }
        }
    }
    // extract schemas into $defs
    for (const entry of ctx.seen.entries()) {
        const seen = entry[1];
        // convert root schema to # $ref
        if (schema === entry[0]) {
            extractToDef(entry); // this has special handling for the root schema
            continue;
        }
        // extract schemas that are in the external registry
        if (ctx.external) {
            const ext = ctx.external.registry.get(entry[0])?.id;
            if (schema !== entry[0] && ext) {
                extractToDef(entry);
                continue;
            }
        }
        // extract schemas with `id` meta
        const id = ctx.metadataRegistry.get(entry[0])?.id;
        if (id) {
            extractToDef(entry);
            continue;
        }
        // break cycles
        if (seen.cycle) {
            // any
            extractToDef(entry);
            continue;
        }
        // extract reused schemas
        if (seen.count > 1) {
            if (ctx.reused === "ref") {
                extractToDef(entry);
            }
        }
    }
    if (ctx.external)
        ctx.sharedDefsExtractedFor = ctx.external;
}
/** Rewrites `anyOf: [{type: "a"}, {type: "b"}]` to `type: ["a", "b"]`, which every JSON Schema draft treats as equivalent and most consumers render far better for the nullable case. Only branches that are a bare type assertion qualify — anything carrying a constraint, `$ref`, `const` or metadata is left alone. Runs after `flattenRef`, so a branch an override decorated or `$defs` extraction turned into a `$ref` is no longer bare and correctly stays in `anyOf`. `oneOf` is excluded: `integer` and `number` overlap, so "exactly one" and "at least one" are not the same there. OpenAPI 3.0 is excluded: its `type` must be a single string. */
function compactTypeUnion(schema) {
    const options = schema.anyOf;
    if (!Array.isArray(options) || options.length === 0 || schema.type !== undefined)
        return;
    const types = [];
    for (const option of options) {
        if (!option || typeof option !== "object")
            return;
        // A branch that is itself a compactible union folds into this one — nested `anyOf` and a flat `type` array say the same thing. Compacting it first also makes the result independent of the order this pass walks the seen map in.
        compactTypeUnion(option);
        const keys = Object.keys(option);
        if (keys.length !== 1 || keys[0] !== "type")
            return;
        const type = option.type;
        for (const member of Array.isArray(type) ? type : [type]) {
            if (typeof member !== "string")
                return;
            if (!types.includes(member))
                types.push(member);
        }
    }
    delete schema.anyOf;
    // A `type` array must be non-empty and unique (metaschema); a single member is spelled as a bare string.
    schema.type = types.length === 1 ? types[0] : types;
}
/** Keywords `foldIntersection` knows how to combine. Anything else — `$ref`, `patternProperties`,
 * an annotation like `description` — makes a member unfoldable, so a constraint this does not
 * understand leaves the `allOf` alone instead of being silently dropped or misattributed. */
const FOLDABLE_KEYS = new Set(["type", "properties", "required", "additionalProperties"]);
const UNION_KEYS = ["oneOf", "anyOf"];
/** A member's constraint on a key it does not declare itself. A `catchall` states one; `false`, an absent `additionalProperties`, and the empty schema a loose object emits state nothing. */
function undeclaredConstraint(member) {
    const extra = member.additionalProperties;
    if (extra === undefined || extra === false || typeof extra !== "object" || extra === null)
        return null;
    return Object.keys(extra).length ? extra : null;
}
/** Combines object members into the single object they describe together, or returns `null` if any of them carries a keyword outside {@link FOLDABLE_KEYS}. */
function foldObjects(members) {
    const objects = [];
    for (const member of members) {
        // A boolean subschema is legal JSON Schema and carries no keywords to fold.
        if (typeof member !== "object" || member.type !== "object")
            return null;
        for (const key in member) {
            if (!FOLDABLE_KEYS.has(key))
                return null;
        }
        objects.push(member);
    }
    const properties = {};
    const required = new Set();
    for (const object of objects) {
        for (const key in object.properties) {
            // `in` would report a `__proto__` key as already present via the prototype chain and skip it.
            if (Object.prototype.hasOwnProperty.call(properties, key))
                continue;
            // Every member constrains this key: the ones that declare it say how, and a `catchall` member constrains it too even though it does not name it. The key has to satisfy all of them, which is the same intersection one level down.
            const parts = [];
            for (const other of objects) {
                const part = other.properties?.[key] ?? undeclaredConstraint(other);
                if (part === null || part === undefined)
                    continue;
                if (!parts.some((seen) => JSON.stringify(seen) === JSON.stringify(part)))
                    parts.push(part);
            }
            const merged = parts.length === 1
                ? parts[0]
                : (foldObjects(parts) ?? { allOf: parts });
            assignProp(properties, key, merged);
        }
        for (const key of object.required ?? [])
            required.add(key);
    }
    const folded = { type: "object", properties };
    if (required.size)
        folded.required = [...required];
    // A key no member declares is rejected only when every member rejects it, so the fold is closed only when every member is. Otherwise it carries whatever the `catchall` members demand of such a key.
    if (objects.every((object) => object.additionalProperties === false)) {
        folded.additionalProperties = false;
    }
    else {
        const constraints = [];
        for (const object of objects) {
            const constraint = undeclaredConstraint(object);
            if (constraint && !constraints.some((seen) => JSON.stringify(seen) === JSON.stringify(constraint)))
                constraints.push(constraint);
        }
        if (constraints.length === 1)
            folded.additionalProperties = constraints[0];
        else if (constraints.length > 1)
            folded.additionalProperties = { allOf: constraints };
    }
    return folded;
}
/** `additionalProperties` in an `allOf` member sees only that member's own `properties`, so two
 * closed object members reject each other's keys and the schema validates nothing. Zod's parser
 * pools the key sets instead — `handleIntersectionResults` reports a key as unrecognized only when
 * *every* side rejects it — so the emitted schema has to pool them too, and folding the members
 * into one object is the encoding that says so on every target.
 *
 * This runs from `finalize`, after `extractDefs`, which is what keeps it clear of the `$ref`
 * machinery: a member extracted into `$defs` is already a `$ref` by now and declines to fold, so it
 * keeps its reference and its own closedness rather than being inlined as a stale copy. */
function foldIntersection(json) {
    const allOf = json.allOf;
    if (!Array.isArray(allOf) || allOf.length < 2)
        return;
    // An `override` runs before this pass and may have written object keywords onto the intersection itself. Those are deliberate, so decline rather than overwrite them.
    for (const key of FOLDABLE_KEYS)
        if (key in json)
            return;
    // An intersection distributes over a union: `A & (X | Y)` is `(A & X) | (A & Y)`. Only the first union is distributed over; a second one stays among the members every branch folds against, where it fails the object check and declines the whole intersection rather than multiplying out.
    const unions = allOf.filter((m) => UNION_KEYS.some((k) => Array.isArray(m[k])));
    let folded = null;
    if (!unions.length) {
        folded = foldObjects(allOf);
    }
    else {
        const union = unions[0];
        const keyword = UNION_KEYS.find((k) => Array.isArray(union[k]));
        if (Object.keys(union).length !== 1)
            return;
        const rest = allOf.filter((m) => m !== union);
        const branches = union[keyword].map((branch) => foldObjects([...rest, branch]));
        if (branches.some((b) => !b))
            return;
        folded = { [keyword]: branches };
    }
    if (!folded)
        return;
    delete json.allOf;
    assignProps(json, folded);
}
function finalize(ctx, schema) {
    const root = ctx.seen.get(schema);
    if (!root)
        throw new Error("Unprocessed schema. This is a bug in Zod.");
    // flatten refs - inherit properties from parent schemas
    const flattenRef = (zodSchema) => {
        const seen = ctx.seen.get(zodSchema);
        // already processed
        if (seen.ref === null)
            return;
        const schema = seen.def ?? seen.schema;
        const _cached = { ...schema };
        const ref = seen.ref;
        seen.ref = null; // prevent infinite recursion
        if (ref) {
            flattenRef(ref);
            const refSeen = ctx.seen.get(ref);
            const refSchema = refSeen.schema;
            // merge referenced schema into current
            if (refSchema.$ref && (ctx.target === "draft-07" || ctx.target === "draft-04" || ctx.target === "openapi-3.0")) {
                // older drafts can't combine $ref with other properties
                schema.allOf = schema.allOf ?? [];
                schema.allOf.push(refSchema);
            }
            else {
                assignProps(schema, refSchema);
            }
            // restore child's own properties (child wins)
            assignProps(schema, _cached);
            const isParentRef = zodSchema._zod.parent === ref;
            // For parent chain, child is a refinement - remove parent-only properties
            if (isParentRef) {
                for (const key in schema) {
                    if (key === "$ref" || key === "allOf")
                        continue;
                    if (!(key in _cached)) {
                        delete schema[key];
                    }
                }
            }
            // When ref was extracted to $defs, remove properties that match the definition
            if (refSchema.$ref && refSeen.def) {
                for (const key in schema) {
                    if (key === "$ref" || key === "allOf")
                        continue;
                    if (key in refSeen.def && JSON.stringify(schema[key]) === JSON.stringify(refSeen.def[key])) {
                        delete schema[key];
                    }
                }
            }
        }
        // If parent was extracted (has $ref), propagate $ref to this schema. This handles cases like: readonly().meta({id}).describe() where processor sets ref to innerType but parent should be referenced
        const parent = zodSchema._zod.parent;
        if (parent && parent !== ref) {
            // Ensure parent is processed first so its def has inherited properties
            flattenRef(parent);
            const parentSeen = ctx.seen.get(parent);
            if (parentSeen?.schema.$ref) {
                schema.$ref = parentSeen.schema.$ref;
                // De-duplicate with parent's definition
                if (parentSeen.def) {
                    for (const key in schema) {
                        if (key === "$ref" || key === "allOf")
                            continue;
                        if (key in parentSeen.def && JSON.stringify(schema[key]) === JSON.stringify(parentSeen.def[key])) {
                            delete schema[key];
                        }
                    }
                }
            }
        }
        // execute overrides
        ctx.override({
            zodSchema: zodSchema,
            jsonSchema: schema,
            path: seen.path ?? [],
        });
    };
    // Flattening walks the whole map and clears each `ref` as it goes, so a second call over the same map is a no-op scan. Skip it outright once it has run for a registry conversion.
    if (!ctx.external || ctx.sharedEmitDoneFor !== ctx.external) {
        for (const entry of [...ctx.seen.entries()].reverse()) {
            flattenRef(entry[0]);
        }
        if (ctx.target !== "openapi-3.0") {
            for (const entry of ctx.seen.entries()) {
                compactTypeUnion(entry[1].def ?? entry[1].schema);
            }
        }
        for (const rewrite of ctx.deferred)
            rewrite();
        // After flattening, every member that was extracted is a `$ref`, so the fold sees the final shape. A schema that inherits an intersection — through `z.lazy`, or any `ref` chain — holds the same `allOf` array, so fold by array identity to catch every copy.
        if (ctx.intersections.length) {
            const carriers = new Map();
            for (const seen of ctx.seen.values()) {
                for (const json of [seen.schema, seen.def]) {
                    const allOf = json?.allOf;
                    if (!Array.isArray(allOf))
                        continue;
                    const existing = carriers.get(allOf);
                    if (existing)
                        existing.push(json);
                    else
                        carriers.set(allOf, [json]);
                }
            }
            for (const allOf of ctx.intersections) {
                for (const json of carriers.get(allOf) ?? [])
                    foldIntersection(json);
            }
        }
    }
    const result = {};
    if (ctx.target === "draft-2020-12") {
        result.$schema = "https://json-schema.org/draft/2020-12/schema";
    }
    else if (ctx.target === "draft-07") {
        result.$schema = "http://json-schema.org/draft-07/schema#";
    }
    else if (ctx.target === "draft-04") {
        result.$schema = "http://json-schema.org/draft-04/schema#";
    }
    else if (ctx.target === "openapi-3.0") ;
    else ;
    if (ctx.external?.uri) {
        const id = ctx.external.registry.get(schema)?.id;
        if (!id)
            throw new Error("Schema is missing an `id` property");
        result.$id = ctx.external.uri(id);
    }
    // when the root was extracted into $defs, `root.schema` is the `$ref` wrapper and `root.def` is the body that now lives under $defs
    assignProps(result, root.defId ? root.schema : (root.def ?? root.schema));
    // The `id` in `.meta()` is a Zod-specific registration tag used to extract schemas into $defs — it is not user-facing JSON Schema metadata. Strip it from the output body where it would otherwise leak. The id is preserved implicitly via the $defs key (and via $ref paths).
    const rootMetaId = ctx.metadataRegistry.get(schema)?.id;
    if (rootMetaId !== undefined && result.id === rootMetaId)
        delete result.id;
    // build defs object. With `external`, `defs` is the shared object every schema writes into, so the same entries are reassigned on every call. Without it, `defs` is fresh per call and must be rebuilt.
    const defs = ctx.external?.defs ?? {};
    if (!ctx.external || ctx.sharedEmitDoneFor !== ctx.external) {
        for (const entry of ctx.seen.entries()) {
            const seen = entry[1];
            if (seen.def && seen.defId) {
                if (seen.def.id === seen.defId)
                    delete seen.def.id;
                assignProp(defs, seen.defId, seen.def);
            }
        }
    }
    if (ctx.external)
        ctx.sharedEmitDoneFor = ctx.external;
    // set definitions in result
    if (ctx.external) ;
    else {
        if (Object.keys(defs).length > 0) {
            if (ctx.target === "draft-2020-12") {
                result.$defs = defs;
            }
            else {
                result.definitions = defs;
            }
        }
    }
    try {
        // this "finalizes" this schema and ensures all cycles are removed each call to finalize() is functionally independent though the seen map is shared
        const finalized = JSON.parse(JSON.stringify(result));
        Object.defineProperty(finalized, "~standard", {
            value: {
                ...schema["~standard"],
                jsonSchema: {
                    input: createStandardJSONSchemaMethod(schema, "input", ctx.processors),
                    output: createStandardJSONSchemaMethod(schema, "output", ctx.processors),
                },
            },
            enumerable: false,
            writable: false,
        });
        return finalized;
    }
    catch (_err) {
        throw new Error("Error converting schema to JSON.");
    }
}
function isTransforming(_schema, _ctx) {
    const ctx = _ctx ?? { seen: new Set() };
    if (ctx.seen.has(_schema))
        return false;
    ctx.seen.add(_schema);
    const def = _schema._zod.def;
    if (def.type === "transform")
        return true;
    if (def.type === "array")
        return isTransforming(def.element, ctx);
    if (def.type === "set")
        return isTransforming(def.valueType, ctx);
    if (def.type === "lazy")
        return isTransforming(def.getter(), ctx);
    if (def.type === "promise" ||
        def.type === "optional" ||
        def.type === "nonoptional" ||
        def.type === "nullable" ||
        def.type === "readonly" ||
        def.type === "default" ||
        def.type === "prefault" ||
        def.type === "catch") {
        return isTransforming(def.innerType, ctx);
    }
    if (def.type === "intersection") {
        return isTransforming(def.left, ctx) || isTransforming(def.right, ctx);
    }
    if (def.type === "record" || def.type === "map") {
        return isTransforming(def.keyType, ctx) || isTransforming(def.valueType, ctx);
    }
    if (def.type === "pipe") {
        if (_schema._zod.traits.has("$ZodCodec"))
            return true;
        return isTransforming(def.in, ctx) || isTransforming(def.out, ctx);
    }
    if (def.type === "object") {
        for (const key in def.shape) {
            if (isTransforming(def.shape[key], ctx))
                return true;
        }
        return false;
    }
    if (def.type === "union") {
        for (const option of def.options) {
            if (isTransforming(option, ctx))
                return true;
        }
        return false;
    }
    if (def.type === "tuple") {
        for (const item of def.items) {
            if (isTransforming(item, ctx))
                return true;
        }
        if (def.rest && isTransforming(def.rest, ctx))
            return true;
        return false;
    }
    return false;
}
/**
 * Creates a toJSONSchema method for a schema instance.
 * This encapsulates the logic of initializing context, processing, extracting defs, and finalizing.
 */
const createToJSONSchemaMethod = (schema, processors = {}) => (params) => {
    const ctx = initializeContext({ ...params, processors });
    processSchema(schema, ctx);
    extractDefs(ctx, schema);
    return finalize(ctx, schema);
};
const createStandardJSONSchemaMethod = (schema, io, processors = {}) => (params) => {
    const { libraryOptions, target } = params ?? {};
    const ctx = initializeContext({ ...(libraryOptions ?? {}), target, io, processors });
    processSchema(schema, ctx);
    extractDefs(ctx, schema);
    return finalize(ctx, schema);
};

const narrowMin = (agg, key, value) => {
    if (agg[key] === undefined || value > agg[key])
        agg[key] = value;
};
const narrowMax = (agg, key, value) => {
    if (agg[key] === undefined || value < agg[key])
        agg[key] = value;
};
const narrowBoth = (agg, value) => {
    narrowMin(agg, "minimum", value);
    narrowMax(agg, "maximum", value);
};
const addDivisor = (agg, value) => {
    agg.multipleOf ?? (agg.multipleOf = []);
    if (!agg.multipleOf.includes(value))
        agg.multipleOf.push(value);
};
const addPattern = (agg, pattern) => {
    agg.patterns ?? (agg.patterns = new Set());
    agg.patterns.add(pattern);
};
const intersectMime = (agg, mime) => {
    agg.mime = agg.mime ? agg.mime.filter((m) => mime.includes(m)) : [...mime];
};
// last-wins, matching the bag's historical write order; the flag keeps an integer format from being lost to a later float one
const setFormat = (agg, format) => {
    agg.format = format;
    if (format.includes("int"))
        agg.isInt = true;
};
const minContributor = (agg, def) => narrowMin(agg, "minimum", def.minimum);
const maxContributor = (agg, def) => narrowMax(agg, "maximum", def.maximum);
const formatContributor = (ranges) => (agg, def) => {
    setFormat(agg, def.format);
    const [minimum, maximum] = ranges[def.format];
    narrowMin(agg, "minimum", minimum);
    narrowMax(agg, "maximum", maximum);
};
const contributors = {
    greater_than: (agg, def) => narrowMin(agg, def.inclusive ? "minimum" : "exclusiveMinimum", def.value),
    less_than: (agg, def) => narrowMax(agg, def.inclusive ? "maximum" : "exclusiveMaximum", def.value),
    multiple_of: (agg, def) => addDivisor(agg, def.value),
    number_format: formatContributor(NUMBER_FORMAT_RANGES),
    bigint_format: formatContributor(BIGINT_FORMAT_RANGES),
    min_length: minContributor,
    max_length: maxContributor,
    length_equals: (agg, def) => narrowBoth(agg, def.length),
    min_size: minContributor,
    max_size: maxContributor,
    size_equals: (agg, def) => narrowBoth(agg, def.size),
    string_format: (agg, def) => {
        setFormat(agg, def.format);
        if (def.pattern)
            addPattern(agg, def.pattern);
        if (def.format === "base64" || def.format === "base64url")
            agg.contentEncoding = def.format;
        if (def.local || def.precision === -1)
            agg.laxFormat = true;
    },
    mime_type: (agg, def) => intersectMime(agg, def.mime),
};
function aggregateChecks(schema) {
    const agg = {};
    const def = schema._zod.def;
    // a format schema is its own first check, same rule as $ZodType init
    const list = schema._zod.traits.has("$ZodCheck")
        ? [schema, ...(def.checks ?? [])]
        : (def.checks ?? []);
    for (const ch of list)
        contributors[ch._zod.def.check]?.(agg, ch._zod.def);
    // reconcile with the bag so third-party onattach contributions still land; first-party residue is never tighter than the fold, so merging it back is idempotent for one and additive for the other
    const bag = schema._zod.bag;
    if (bag.minimum !== undefined)
        narrowMin(agg, "minimum", bag.minimum);
    if (bag.exclusiveMinimum !== undefined)
        narrowMin(agg, "exclusiveMinimum", bag.exclusiveMinimum);
    if (bag.maximum !== undefined)
        narrowMax(agg, "maximum", bag.maximum);
    if (bag.exclusiveMaximum !== undefined)
        narrowMax(agg, "exclusiveMaximum", bag.exclusiveMaximum);
    if (bag.multipleOf !== undefined)
        addDivisor(agg, bag.multipleOf);
    if (bag.format !== undefined) {
        agg.format ?? (agg.format = bag.format);
        if (bag.format.includes("int"))
            agg.isInt = true;
    }
    if (bag.mime)
        intersectMime(agg, bag.mime);
    for (const pattern of bag.patterns ?? [])
        addPattern(agg, pattern);
    return agg;
}
const formatMap = {
    guid: "uuid",
    url: "uri",
    datetime: "date-time",
    json_string: "json-string",
    regex: "", // do not set
};
// ==================== SIMPLE TYPE PROCESSORS ====================
// the runtime patterns are lax so parse paths never overflow the regex stack; the emitted schema swaps in the exact block forms, which zod itself never executes
const exactPatterns = new Map([
    [base64Charset, base64],
    [base64urlCharset, base64url],
]);
const exactPattern = (p) => exactPatterns.get(p) ?? p;
const stringProcessor = (schema, ctx, _json, _params) => {
    const json = _json;
    json.type = "string";
    const { minimum, maximum, format, patterns, contentEncoding, laxFormat } = aggregateChecks(schema);
    if (typeof minimum === "number")
        json.minLength = minimum;
    if (typeof maximum === "number")
        json.maxLength = maximum;
    // custom pattern overrides format
    if (format) {
        json.format = formatMap[format] ?? format;
        if (json.format === "")
            delete json.format; // empty format is not valid
        // `z.iso.time()` is never full-time, and `laxFormat` carries the datetime shapes that also accept what their keyword forbids
        if (format === "time" || laxFormat) {
            delete json.format;
        }
    }
    if (contentEncoding)
        json.contentEncoding = contentEncoding;
    if (patterns && patterns.size > 0) {
        const patternList = [...patterns].map(exactPattern);
        if (patternList.length === 1)
            json.pattern = patternList[0].source;
        else if (patternList.length > 1) {
            json.allOf = [
                ...patternList.map((regex) => ({
                    ...(ctx.target === "draft-07" || ctx.target === "draft-04" || ctx.target === "openapi-3.0"
                        ? { type: "string" }
                        : {}),
                    pattern: regex.source,
                })),
            ];
        }
    }
};
const numberProcessor = (schema, ctx, _json, params) => {
    const json = _json;
    const { minimum, maximum, multipleOf, exclusiveMaximum, exclusiveMinimum, isInt } = aggregateChecks(schema);
    json.type = isInt ? "integer" : "number";
    // when both minimum and exclusiveMinimum exist, pick the more restrictive one
    const exMin = typeof exclusiveMinimum === "number" && exclusiveMinimum >= (minimum ?? Number.NEGATIVE_INFINITY);
    const exMax = typeof exclusiveMaximum === "number" && exclusiveMaximum <= (maximum ?? Number.POSITIVE_INFINITY);
    const legacy = ctx.target === "draft-04" || ctx.target === "openapi-3.0";
    if (exMin) {
        if (legacy) {
            json.minimum = exclusiveMinimum;
            json.exclusiveMinimum = true;
        }
        else {
            json.exclusiveMinimum = exclusiveMinimum;
        }
    }
    else if (typeof minimum === "number") {
        json.minimum = minimum;
    }
    if (exMax) {
        if (legacy) {
            json.maximum = exclusiveMaximum;
            json.exclusiveMaximum = true;
        }
        else {
            json.exclusiveMaximum = exclusiveMaximum;
        }
    }
    else if (typeof maximum === "number") {
        json.maximum = maximum;
    }
    if (multipleOf) {
        // JSON Schema requires a divisor strictly greater than zero, and a non-finite one does not survive JSON at all. A negative divisor accepts exactly what its absolute value accepts, so it still maps; zero, NaN and Infinity have no keyword form.
        const divisors = new Set();
        for (const divisor of multipleOf) {
            if (Number.isFinite(divisor) && divisor !== 0)
                divisors.add(Math.abs(divisor));
            else
                handleUnrepresentable(schema, ctx, json, params, `A multipleOf divisor of ${divisor} cannot be represented in JSON Schema`);
        }
        // chained divisors are a conjunction the keyword cannot carry alone, so extras ride an allOf, same as stacked patterns
        const [first, ...rest] = divisors;
        if (first !== undefined)
            json.multipleOf = first;
        if (rest.length)
            json.allOf = [...(json.allOf ?? []), ...rest.map((m) => ({ multipleOf: m }))];
    }
};
const booleanProcessor = (_schema, _ctx, json, _params) => {
    json.type = "boolean";
};
const neverProcessor = (_schema, _ctx, json, _params) => {
    json.not = {};
};
const unknownProcessor = (_schema, _ctx, _json, _params) => {
    // empty schema accepts anything
};
const enumProcessor = (schema, _ctx, json, _params) => {
    const def = schema._zod.def;
    const values = getEnumValues(def.entries);
    // an empty enum accepts nothing, same as z.never()
    if (values.length === 0) {
        json.not = {};
        return;
    }
    // Number enums can have both string and number values
    if (values.every((v) => typeof v === "number"))
        json.type = "number";
    if (values.every((v) => typeof v === "string"))
        json.type = "string";
    json.enum = values;
};
const customProcessor = (schema, ctx, json, params) => {
    handleUnrepresentable(schema, ctx, json, params, "Custom types cannot be represented in JSON Schema");
};
const transformProcessor = (schema, ctx, json, params) => {
    handleUnrepresentable(schema, ctx, json, params, "Transforms cannot be represented in JSON Schema");
};
// ==================== COMPOSITE TYPE PROCESSORS ====================
const arrayProcessor = (schema, ctx, _json, params) => {
    const json = _json;
    const def = schema._zod.def;
    const { minimum, maximum } = aggregateChecks(schema);
    if (typeof minimum === "number")
        json.minItems = minimum;
    if (typeof maximum === "number")
        json.maxItems = maximum;
    json.type = "array";
    json.items = processSchema(def.element, ctx, {
        ...params,
        path: [...params.path, "items"],
    });
};
// Transform and catch set `optin = "optional"` at runtime so the parser lets them observe an
// absent key, but their declared input type stays required. An input JSON Schema describes the
// declared type, so resolve past them to the schema that actually carries the optionality.
// Used by both `objectProcessor` (for `required`) and `tupleProcessor` (for `minItems`); see
// wiki/optionality.md, "The JSON Schema emitter reads the *static* value".
function inputOptin(schema) {
    const def = schema._zod.def;
    if (def.type === "pipe" && def.in._zod.traits.has("$ZodTransform")) {
        return inputOptin(def.out);
    }
    if (def.type === "catch") {
        return inputOptin(def.innerType);
    }
    return schema._zod.optin;
}
const objectProcessor = (schema, ctx, _json, params) => {
    const json = _json;
    const def = schema._zod.def;
    const shape = def.shape;
    // dropping it while still emitting `additionalProperties: false` would emit a schema that rejects data this one requires
    const symbolKeys = Object.getOwnPropertySymbols(shape);
    if (symbolKeys.length &&
        handleUnrepresentable(schema, ctx, json, params, "Symbol keys cannot be represented in JSON Schema")) {
        return;
    }
    json.type = "object";
    json.properties = {};
    for (const key in shape) {
        // assignProp so a __proto__ key becomes an own property instead of hitting the inherited setter on the plain {} we build into
        assignProp(json.properties, key, processSchema(shape[key], ctx, {
            ...params,
            path: [...params.path, "properties", key],
        }));
    }
    // required keys
    const requiredKeys = [];
    for (const key of Object.keys(shape)) {
        const field = def.shape[key];
        if (ctx.io === "input" ? inputOptin(field) === undefined : field._zod.optout === undefined) {
            requiredKeys.push(key);
        }
    }
    if (requiredKeys.length > 0) {
        json.required = requiredKeys;
    }
    // catchall
    if (def.catchall?._zod.def.type === "never") {
        // strict
        json.additionalProperties = false;
    }
    else if (!def.catchall) {
        // regular
        if (ctx.io === "output")
            json.additionalProperties = false;
    }
    else if (def.catchall) {
        json.additionalProperties = processSchema(def.catchall, ctx, {
            ...params,
            path: [...params.path, "additionalProperties"],
        });
    }
};
const unionProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    // Exclusive unions (inclusive === false) use oneOf (exactly one match) instead of anyOf (one or more matches). This includes both z.xor() and discriminated unions
    const isExclusive = def.inclusive === false;
    const options = def.options.map((x, i) => processSchema(x, ctx, {
        ...params,
        path: [...params.path, isExclusive ? "oneOf" : "anyOf", i],
    }));
    if (isExclusive) {
        json.oneOf = options;
    }
    else {
        json.anyOf = options;
    }
};
const intersectionProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    const a = processSchema(def.left, ctx, {
        ...params,
        path: [...params.path, "allOf", 0],
    });
    const b = processSchema(def.right, ctx, {
        ...params,
        path: [...params.path, "allOf", 1],
    });
    const isSimpleIntersection = (val) => "allOf" in val && Object.keys(val).length === 1;
    const allOf = [
        ...(isSimpleIntersection(a) ? a.allOf : [a]),
        ...(isSimpleIntersection(b) ? b.allOf : [b]),
    ];
    json.allOf = allOf;
    // Recorded innermost first, so a nested intersection has already folded by the time this one is considered. The array is the handle rather than the schema, because a wrapper that inherits this schema shares the same array; `finalize` folds every object holding it. See `foldIntersection`.
    ctx.intersections.push(allOf);
};
/** JSON object keys are always strings, so a numeric record key schema is re-expressed over the
 * numeric-string form the record parser matches. Deferred to `finalize`, after the flatten: a key
 * behind a wrapper only carries its own `type` before then, and a union key only has its branches.
 *
 * A numeric bound cannot apply to a property name, so `minimum` and its siblings are dropped rather
 * than carried over: keeping them beside `type: "string"` reproduces the match-nothing schema this
 * exists to fix. A key that carries one therefore emits wider than the record parses — `z.record(z.number().min(5), V)`
 * accepts `"3"` — which is the deliberate trade, since throwing on it would reject an ordinary schema
 * outright. */
function stringifyKeyNames(bySchema, json, visited) {
    // an extracted key that rewrites cannot go on sharing its definition — the string form a key position needs is not the number form every other reference wants — so it inlines. One that does not rewrite keeps the `$ref`.
    if (json.$ref) {
        // a recursive key holds its own reference inside its definition, so a node already on the path is left alone rather than resolved again
        if (visited.has(json))
            return json;
        visited.add(json);
        const def = bySchema.get(json)?.def;
        if (!def)
            return json;
        const inlined = stringifyKeyNames(bySchema, def, visited);
        return inlined === def ? json : inlined;
    }
    for (const keyword of ["anyOf", "oneOf"]) {
        const branches = json[keyword];
        if (!Array.isArray(branches))
            continue;
        const mapped = branches.map((branch) => stringifyKeyNames(bySchema, branch, visited));
        // rebuilding regardless would detach a key that had nothing to re-express, dropping its `$ref` and leaking the internal `id`
        if (mapped.some((branch, i) => branch !== branches[i]))
            json = { ...json, [keyword]: mapped };
    }
    // a member that already admits a string leaves the key unconstrained, so the node's own type re-expresses only when every member is numeric
    const types = Array.isArray(json.type) ? json.type : [json.type];
    const numericType = !types.includes("string") && types.some((t) => t === "number" || t === "integer");
    // a heterogeneous key carries no type at all, so its numeric members are caught here instead
    const values = json.enum ?? (json.const !== undefined ? [json.const] : undefined);
    if (!numericType && !values?.some((v) => typeof v === "number"))
        return json;
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, format, id, ...rest } = json;
    if (rest.enum)
        rest.enum = rest.enum.map((v) => (typeof v === "number" ? String(v) : v));
    else if (typeof rest.const === "number")
        rest.const = String(rest.const);
    // a heterogeneous key keeps its absent type: the stringified members already say what a key may be
    if (!numericType)
        return rest;
    rest.type = "string";
    if (!values)
        rest.pattern = (types.includes("number") ? number$1 : integer$1).source;
    return rest;
}
/** Every record of one conversion, so the carriers are found in a single pass rather than once per record. */
const pendingRecords = new WeakMap();
function rewriteKeyNames(ctx) {
    // an extracted key is resolved by the object `extractToDef` left in its place, so the map is built once rather than searched per reference. `_zod.toJSONSchema` can hand the same object to two schemas, so the first entry carrying a body wins, as a search would have found it.
    const bySchema = new Map();
    for (const entry of ctx.seen.values()) {
        if (entry.def && !bySchema.has(entry.schema))
            bySchema.set(entry.schema, entry);
    }
    const rewrites = new Map();
    for (const record of pendingRecords.get(ctx) ?? []) {
        const seen = ctx.seen.get(record);
        const names = (seen?.def ?? seen?.schema)?.propertyNames;
        if (!names || names === true || rewrites.has(names))
            continue;
        const rewritten = stringifyKeyNames(bySchema, names, new Set());
        if (rewritten !== names)
            rewrites.set(names, rewritten);
    }
    if (!rewrites.size)
        return;
    // the flatten has already copied each record's own properties onto every wrapper by reference, and an extracted body is another such copy, so every carrier holding a rewritten key is updated together
    for (const entry of ctx.seen.values()) {
        for (const carrier of [entry.schema, entry.def]) {
            const rewritten = carrier && rewrites.get(carrier.propertyNames);
            if (rewritten)
                carrier.propertyNames = rewritten;
        }
    }
}
const recordProcessor = (schema, ctx, _json, params) => {
    const json = _json;
    const def = schema._zod.def;
    json.type = "object";
    // For looseRecord with regex patterns, use patternProperties. This correctly represents "only validate keys matching the pattern" semantics and composes well with allOf (intersections)
    const keyType = def.keyType;
    const patterns = aggregateChecks(keyType).patterns;
    if (def.mode === "loose" && patterns && patterns.size > 0) {
        // Use patternProperties for looseRecord with regex patterns
        const valueSchema = processSchema(def.valueType, ctx, {
            ...params,
            path: [...params.path, "patternProperties", "*"],
        });
        json.patternProperties = {};
        for (const pattern of patterns) {
            assignProp(json.patternProperties, exactPattern(pattern).source, valueSchema);
        }
    }
    else {
        // Default behavior: use propertyNames + additionalProperties
        if (ctx.target === "draft-07" || ctx.target === "draft-2020-12") {
            json.propertyNames = processSchema(def.keyType, ctx, {
                ...params,
                path: [...params.path, "propertyNames"],
            });
            let pending = pendingRecords.get(ctx);
            if (!pending) {
                pending = [];
                pendingRecords.set(ctx, pending);
                ctx.deferred.push(() => rewriteKeyNames(ctx));
            }
            pending.push(schema);
        }
        json.additionalProperties = processSchema(def.valueType, ctx, {
            ...params,
            path: [...params.path, "additionalProperties"],
        });
    }
    // Add required for keys with discrete values (enum, literal, etc.)
    const keyValues = keyType._zod.values;
    // Every key shares one value schema, so an optional-in value makes the whole key set omittable on input. Output keeps them: the exhaustive branch assigns every key, even one whose value came back undefined.
    const omittableOnInput = ctx.io === "input" && inputOptin(def.valueType) !== undefined;
    if (keyValues && !def.partial && !omittableOnInput) {
        const validKeyValues = [...keyValues].filter((v) => typeof v === "string" || typeof v === "number");
        if (validKeyValues.length > 0) {
            json.required = validKeyValues.map(String);
        }
    }
};
const nullableProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    const inner = processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    if (ctx.target === "openapi-3.0") {
        seen.ref = def.innerType;
        json.nullable = true;
    }
    else {
        json.anyOf = [inner, { type: "null" }];
    }
};
const nonoptionalProcessor = (schema, ctx, _json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
};
/** Round-trips a default value through JSON so the emitted schema is guaranteed to be valid JSON.
 * A BigInt has no reliable encoding, so it goes through `unrepresentable` like any other
 * unrepresentable value. Returns a sentinel when the caller must not write a default of its own. */
const UNREPRESENTABLE_DEFAULT = Symbol();
function serializeDefaultValue(value, schema, ctx, json, params) {
    let unrepresentable = false;
    const serialized = JSON.stringify(value, (_, val) => {
        if (typeof val !== "bigint")
            return val;
        unrepresentable = true;
        return null;
    });
    if (!unrepresentable)
        return JSON.parse(serialized);
    handleUnrepresentable(schema, ctx, json, params, "BigInt defaults cannot be represented in JSON Schema");
    return UNREPRESENTABLE_DEFAULT;
}
const defaultProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
    const value = serializeDefaultValue(def.defaultValue, schema, ctx, json, params);
    if (value !== UNREPRESENTABLE_DEFAULT)
        json.default = value;
};
const prefaultProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
    if (ctx.io !== "input")
        return;
    const value = serializeDefaultValue(def.defaultValue, schema, ctx, json, params);
    if (value !== UNREPRESENTABLE_DEFAULT)
        json._prefault = value;
};
const catchProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
    let catchValue;
    try {
        catchValue = def.catchValue(undefined);
    }
    catch {
        handleUnrepresentable(schema, ctx, json, params, "Dynamic catch values are not supported in JSON Schema");
        return;
    }
    json.default = catchValue;
};
const pipeProcessor = (schema, ctx, _json, params) => {
    const def = schema._zod.def;
    const inIsTransform = def.in._zod.traits.has("$ZodTransform");
    const innerType = ctx.io === "input" ? (inIsTransform ? def.out : def.in) : def.out;
    processSchema(innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = innerType;
};
const readonlyProcessor = (schema, ctx, json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
    json.readOnly = true;
};
const optionalProcessor = (schema, ctx, _json, params) => {
    const def = schema._zod.def;
    processSchema(def.innerType, ctx, params);
    const seen = ctx.seen.get(schema);
    seen.ref = def.innerType;
};

/* Prototypes that already carry the lazy helper methods. Seeded with the
 * intrinsics so that `init` on a foreign object — it accepts any object —
 * can never install an accessor onto a prototype we do not own. */
const _installedErrorProtos = /* @__PURE__ */ new WeakSet([Object.prototype, Error.prototype]);
/* Helper methods live as non-enumerable lazy getters on the shared
 * prototype instead of own properties on every instance. On first
 * access the getter allocates the per-instance closure and caches it
 * as a non-enumerable own property, so detached usage still works and
 * the allocation only happens for methods actually touched. */
function _lazyMethod(proto, key, make) {
    Object.defineProperty(proto, key, {
        configurable: true,
        enumerable: false,
        get() {
            const value = make(this);
            Object.defineProperty(this, key, { value, configurable: true, writable: true });
            return value;
        },
        set(value) {
            Object.defineProperty(this, key, { value, configurable: true, writable: true });
        },
    });
}
const initializer = (inst, issues) => {
    $ZodError.init(inst, issues);
    inst.name = "ZodError";
    const proto = Object.getPrototypeOf(inst);
    if (_installedErrorProtos.has(proto))
        return;
    _installedErrorProtos.add(proto);
    _lazyMethod(proto, "format", (self) => (mapper) => formatError(self, mapper));
    _lazyMethod(proto, "flatten", (self) => (mapper) => flattenError(self, mapper));
    _lazyMethod(proto, "addIssue", (self) => (issue) => {
        self.issues.push(issue);
        self.message = JSON.stringify(self.issues, jsonStringifyReplacer, 2);
    });
    _lazyMethod(proto, "addIssues", (self) => (issues) => {
        self.issues.push(...issues);
        self.message = JSON.stringify(self.issues, jsonStringifyReplacer, 2);
    });
    Object.defineProperty(proto, "isEmpty", {
        configurable: true,
        enumerable: false,
        get() {
            return this.issues.length === 0;
        },
    });
};
const ZodRealError = /*@__PURE__*/ $constructor("ZodError", initializer, undefined, {
    Parent: Error,
});
// /** @deprecated Use `z.core.$ZodErrorMapCtx` instead. */
// export type ErrorMapCtx = core.$ZodErrorMapCtx;

const parse$1 = /* @__PURE__ */ _parse(ZodRealError);
const parseAsync = /* @__PURE__ */ _parseAsync(ZodRealError);
const safeParse = /* @__PURE__ */ _safeParse(ZodRealError);
const safeParseAsync = /* @__PURE__ */ _safeParseAsync(ZodRealError);
// Codec functions
const encode = /* @__PURE__ */ _encode(ZodRealError);
const decode = /* @__PURE__ */ _decode(ZodRealError);
const encodeAsync = /* @__PURE__ */ _encodeAsync(ZodRealError);
const decodeAsync = /* @__PURE__ */ _decodeAsync(ZodRealError);
const safeEncode = /* @__PURE__ */ _safeEncode(ZodRealError);
const safeDecode = /* @__PURE__ */ _safeDecode(ZodRealError);
const safeEncodeAsync = /* @__PURE__ */ _safeEncodeAsync(ZodRealError);
const safeDecodeAsync = /* @__PURE__ */ _safeDecodeAsync(ZodRealError);

// Register English as the default locale on first ZodType construction. Hooked into the `ZodType` `$constructor` (rather than a top-level `config(en())` in `external.ts`) so bundlers honoring `sideEffects: false` can't tree-shake it out — see #5953, #5725. An explicit `z.config(z.locales.xx())` call wins regardless of order, since this only sets the default when none is present.
function _ensureDefaultLocale() {
    if (!globalConfig.localeError)
        config(en());
}
// the default memoizer is read by the core container init, which runs before `ZodType.init`, so each container calls this first
function _ensureDefaultMemoizer() {
    if (!globalConfig.memoizer)
        config({ memoizer: memoizer() });
}
const ZodType = /*@__PURE__*/ $constructor("ZodType", (inst, def) => {
    _ensureDefaultLocale();
    $ZodType.init(inst, def);
    inst.def = def;
    inst.type = def.type;
    return inst;
}, {
    check(...chks) {
        const def = this.def;
        return this.clone(mergeDefs(def, {
            checks: [
                ...(def.checks ?? []),
                ...chks.map((ch) => typeof ch === "function" ? { _zod: { check: ch, def: { check: "custom" }, onattach: [] } } : ch),
            ],
        }), { parent: true });
    },
    with(...chks) {
        return this.check(...chks);
    },
    clone(def, params) {
        return clone(this, def, params);
    },
    brand() {
        return this;
    },
    register(reg, meta) {
        reg.add(this, meta);
        return this;
    },
    refine(check, params) {
        return this.check(refine(check, params));
    },
    superRefine(refinement, params) {
        return this.check(superRefine(refinement, params));
    },
    overwrite(fn) {
        return this.check(_overwrite(fn));
    },
    optional() {
        return optional(this);
    },
    exactOptional() {
        return exactOptional(this);
    },
    nullable() {
        return nullable(this);
    },
    nullish() {
        return optional(nullable(this));
    },
    nonoptional(params) {
        return nonoptional(this, params);
    },
    array() {
        return array(this);
    },
    or(arg) {
        return union([this, arg]);
    },
    and(arg) {
        return intersection(this, arg);
    },
    transform(tx) {
        return pipe(this, transform(tx));
    },
    default(d) {
        return _default(this, d);
    },
    prefault(d) {
        return prefault(this, d);
    },
    catch(params) {
        return _catch(this, params);
    },
    pipe(target) {
        return pipe(this, target);
    },
    readonly() {
        return readonly(this);
    },
    describe(description) {
        const cl = this.clone();
        globalRegistry.add(cl, { description });
        return cl;
    },
    meta(...args) {
        // overloaded: meta() returns the registered metadata, meta(data) returns a clone with `data` registered. The mapped type picks up the second overload, so we accept variadic any-args and return `any` to satisfy both at runtime.
        if (args.length === 0)
            return globalRegistry.get(this);
        const cl = this.clone();
        globalRegistry.add(cl, args[0]);
        return cl;
    },
    isOptional() {
        return this.safeParse(undefined).success;
    },
    isNullable() {
        return this.safeParse(null).success;
    },
    apply(fn, ...args) {
        return args.length === 0 ? fn(this) : fn(this, ...args);
    },
    // Overrides core's `~standard` to add `jsonSchema`. Must stay a prototype entry: redefining it per instance demotes instances to dictionary mode.
    get "~standard"() {
        return hide(this, "~standard", {
            ...standardProps(this),
            jsonSchema: {
                input: createStandardJSONSchemaMethod(this, "input"),
                output: createStandardJSONSchemaMethod(this, "output"),
            },
        });
    },
    set "~standard"(value) {
        own(this, "~standard", value);
    },
    parse: function _parse(data, params) {
        return parse$1(this, data, params, { callee: _parse });
    },
    parseAsync: async function _parseAsync(data, params) {
        return await parseAsync(this, data, params, { callee: _parseAsync });
    },
    safeParse(data, params) {
        return safeParse(this, data, params);
    },
    async safeParseAsync(data, params) {
        return safeParseAsync(this, data, params);
    },
    // `spa` is an alias: same function object as `safeParseAsync`, as before.
    get spa() {
        return this?.safeParseAsync;
    },
    set spa(value) {
        own(this, "spa", value);
    },
    validate(data, params) {
        return validate(this, data, params);
    },
    validateAsync(data, params) {
        return validateAsync$1(this, data, params);
    },
    encode: function _encode(data, params) {
        return encode(this, data, params, { callee: _encode });
    },
    decode: function _decode(data, params) {
        return decode(this, data, params, { callee: _decode });
    },
    encodeAsync: async function _encodeAsync(data, params) {
        return await encodeAsync(this, data, params, { callee: _encodeAsync });
    },
    decodeAsync: async function _decodeAsync(data, params) {
        return await decodeAsync(this, data, params, { callee: _decodeAsync });
    },
    safeEncode(data, params) {
        return safeEncode(this, data, params);
    },
    safeDecode(data, params) {
        return safeDecode(this, data, params);
    },
    async safeEncodeAsync(data, params) {
        return safeEncodeAsync(this, data, params);
    },
    async safeDecodeAsync(data, params) {
        return safeDecodeAsync(this, data, params);
    },
    toJSONSchema(params) {
        return createToJSONSchemaMethod(this, {})(params);
    },
    // Reads through to the registry on every access, so it must not cache.
    get description() {
        return globalRegistry.get(this)?.description;
    },
    // No setter: `schema._def = x` throws, as it did when `_def` was a non-writable own property.
    get _def() {
        return this._zod.def;
    },
});
/** @internal */
const _ZodString = /*@__PURE__*/ $constructor("_ZodString", (inst, def) => {
    $ZodString.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => stringProcessor(inst, ctx, json);
}, 
/*@__PURE__*/ derived({
    format: (inst) => aggregateChecks(inst).format ?? null,
    minLength: (inst) => aggregateChecks(inst).minimum ?? null,
    maxLength: (inst) => aggregateChecks(inst).maximum ?? null,
}, {
    regex(...args) {
        return this.check(_regex(...args));
    },
    includes(...args) {
        return this.check(_includes(...args));
    },
    startsWith(...args) {
        return this.check(_startsWith(...args));
    },
    endsWith(...args) {
        return this.check(_endsWith(...args));
    },
    min(...args) {
        return this.check(_minLength(...args));
    },
    max(...args) {
        return this.check(_maxLength(...args));
    },
    length(...args) {
        return this.check(_length(...args));
    },
    nonempty(...args) {
        return this.check(_minLength(1, ...args));
    },
    lowercase(params) {
        return this.check(_lowercase(params));
    },
    uppercase(params) {
        return this.check(_uppercase(params));
    },
    trim() {
        return this.check(_trim());
    },
    normalize(...args) {
        return this.check(_normalize(...args));
    },
    toLowerCase() {
        return this.check(_toLowerCase());
    },
    toUpperCase() {
        return this.check(_toUpperCase());
    },
    slugify() {
        return this.check(_slugify());
    },
}));
const ZodString = /*@__PURE__*/ $constructor("ZodString", (inst, def) => {
    $ZodString.init(inst, def);
    _ZodString.init(inst, def);
}, {
    email(params) {
        return this.check(_email(ZodEmail, params));
    },
    url(params) {
        return this.check(_url(ZodURL, params));
    },
    jwt(params) {
        return this.check(_jwt(ZodJWT, params));
    },
    emoji(params) {
        return this.check(_emoji(ZodEmoji, params));
    },
    guid(params) {
        return this.check(_guid(ZodGUID, params));
    },
    uuid(params) {
        return this.check(_uuid(ZodUUID, params));
    },
    uuidv4(params) {
        return this.check(_uuidv4(ZodUUID, params));
    },
    uuidv6(params) {
        return this.check(_uuidv6(ZodUUID, params));
    },
    uuidv7(params) {
        return this.check(_uuidv7(ZodUUID, params));
    },
    nanoid(params) {
        return this.check(_nanoid(ZodNanoID, params));
    },
    cuid(params) {
        return this.check(_cuid(ZodCUID, params));
    },
    cuid2(params) {
        return this.check(_cuid2(ZodCUID2, params));
    },
    ulid(params) {
        return this.check(_ulid(ZodULID, params));
    },
    base64(params) {
        return this.check(_base64(ZodBase64, params));
    },
    base64url(params) {
        return this.check(_base64url(ZodBase64URL, params));
    },
    xid(params) {
        return this.check(_xid(ZodXID, params));
    },
    ksuid(params) {
        return this.check(_ksuid(ZodKSUID, params));
    },
    ipv4(params) {
        return this.check(_ipv4(ZodIPv4, params));
    },
    ipv6(params) {
        return this.check(_ipv6(ZodIPv6, params));
    },
    cidrv4(params) {
        return this.check(_cidrv4(ZodCIDRv4, params));
    },
    cidrv6(params) {
        return this.check(_cidrv6(ZodCIDRv6, params));
    },
    e164(params) {
        return this.check(_e164(ZodE164, params));
    },
    datetime(params) {
        return this.check(_isoDateTime(ZodISODateTime, params));
    },
    date(params) {
        return this.check(_isoDate(ZodISODate, params));
    },
    time(params) {
        return this.check(_isoTime(ZodISOTime, params));
    },
    duration(params) {
        return this.check(_isoDuration(ZodISODuration, params));
    },
});
function string(params) {
    return _string(ZodString, params);
}
const ZodStringFormat = /*@__PURE__*/ $constructor("ZodStringFormat", (inst, def) => {
    $ZodStringFormat.init(inst, def);
    _ZodString.init(inst, def);
});
const ZodISODateTime = /*@__PURE__*/ $constructor("ZodISODateTime", (inst, def) => {
    $ZodISODateTime.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodISODate = /*@__PURE__*/ $constructor("ZodISODate", (inst, def) => {
    $ZodISODate.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodISOTime = /*@__PURE__*/ $constructor("ZodISOTime", (inst, def) => {
    $ZodISOTime.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodISODuration = /*@__PURE__*/ $constructor("ZodISODuration", (inst, def) => {
    $ZodISODuration.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodEmail = /*@__PURE__*/ $constructor("ZodEmail", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodEmail.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodGUID = /*@__PURE__*/ $constructor("ZodGUID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodGUID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodUUID = /*@__PURE__*/ $constructor("ZodUUID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodUUID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodURL = /*@__PURE__*/ $constructor("ZodURL", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodURL.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodEmoji = /*@__PURE__*/ $constructor("ZodEmoji", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodEmoji.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodNanoID = /*@__PURE__*/ $constructor("ZodNanoID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodNanoID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
/**
 * @deprecated CUID v1 is deprecated by its authors due to information leakage
 * (timestamps embedded in the id). Use {@link ZodCUID2} instead.
 * See https://github.com/paralleldrive/cuid.
 */
const ZodCUID = /*@__PURE__*/ $constructor("ZodCUID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodCUID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodCUID2 = /*@__PURE__*/ $constructor("ZodCUID2", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodCUID2.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodULID = /*@__PURE__*/ $constructor("ZodULID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodULID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodXID = /*@__PURE__*/ $constructor("ZodXID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodXID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodKSUID = /*@__PURE__*/ $constructor("ZodKSUID", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodKSUID.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodIPv4 = /*@__PURE__*/ $constructor("ZodIPv4", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodIPv4.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodIPv6 = /*@__PURE__*/ $constructor("ZodIPv6", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodIPv6.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodCIDRv4 = /*@__PURE__*/ $constructor("ZodCIDRv4", (inst, def) => {
    $ZodCIDRv4.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodCIDRv6 = /*@__PURE__*/ $constructor("ZodCIDRv6", (inst, def) => {
    $ZodCIDRv6.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodBase64 = /*@__PURE__*/ $constructor("ZodBase64", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodBase64.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodBase64URL = /*@__PURE__*/ $constructor("ZodBase64URL", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodBase64URL.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodE164 = /*@__PURE__*/ $constructor("ZodE164", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodE164.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodJWT = /*@__PURE__*/ $constructor("ZodJWT", (inst, def) => {
    // ZodStringFormat.init(inst, def);
    $ZodJWT.init(inst, def);
    ZodStringFormat.init(inst, def);
});
const ZodNumber = /*@__PURE__*/ $constructor("ZodNumber", (inst, def) => {
    $ZodNumber.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => numberProcessor(inst, ctx, json, params);
    inst.isFinite = true;
}, 
/*@__PURE__*/ derived({
    minValue: (inst) => {
        const { minimum, exclusiveMinimum } = aggregateChecks(inst);
        return Math.max(minimum ?? Number.NEGATIVE_INFINITY, exclusiveMinimum ?? Number.NEGATIVE_INFINITY);
    },
    maxValue: (inst) => {
        const { maximum, exclusiveMaximum } = aggregateChecks(inst);
        return Math.min(maximum ?? Number.POSITIVE_INFINITY, exclusiveMaximum ?? Number.POSITIVE_INFINITY);
    },
    isInt: (inst) => {
        const { isInt, multipleOf } = aggregateChecks(inst);
        return !!isInt || !!multipleOf?.some(Number.isSafeInteger);
    },
    format: (inst) => aggregateChecks(inst).format ?? null,
}, {
    gt(value, params) {
        return this.check(_gt(value, params));
    },
    gte(value, params) {
        return this.check(_gte(value, params));
    },
    min(value, params) {
        return this.check(_gte(value, params));
    },
    lt(value, params) {
        return this.check(_lt(value, params));
    },
    lte(value, params) {
        return this.check(_lte(value, params));
    },
    max(value, params) {
        return this.check(_lte(value, params));
    },
    int(params) {
        return this.check(int(params));
    },
    safe(params) {
        return this.check(int(params));
    },
    positive(params) {
        return this.check(_gt(0, params));
    },
    nonnegative(params) {
        return this.check(_gte(0, params));
    },
    negative(params) {
        return this.check(_lt(0, params));
    },
    nonpositive(params) {
        return this.check(_lte(0, params));
    },
    multipleOf(value, params) {
        return this.check(_multipleOf(value, params));
    },
    step(value, params) {
        return this.check(_multipleOf(value, params));
    },
    finite() {
        return this;
    },
}));
function number(params) {
    return _number(ZodNumber, params);
}
const ZodNumberFormat = /*@__PURE__*/ $constructor("ZodNumberFormat", (inst, def) => {
    $ZodNumberFormat.init(inst, def);
    ZodNumber.init(inst, def);
});
function int(params) {
    return _int(ZodNumberFormat, params);
}
const ZodBoolean = /*@__PURE__*/ $constructor("ZodBoolean", (inst, def) => {
    $ZodBoolean.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => booleanProcessor(inst, ctx, json);
});
function boolean(params) {
    return _boolean(ZodBoolean, params);
}
const ZodUnknown = /*@__PURE__*/ $constructor("ZodUnknown", (inst, def) => {
    $ZodUnknown.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => unknownProcessor();
});
function unknown() {
    return _unknown(ZodUnknown);
}
const ZodNever = /*@__PURE__*/ $constructor("ZodNever", (inst, def) => {
    $ZodNever.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => neverProcessor(inst, ctx, json);
});
function never(params) {
    return _never(ZodNever, params);
}
const ZodArray = /*@__PURE__*/ $constructor("ZodArray", (inst, def) => {
    _ensureDefaultMemoizer();
    $ZodArray.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => arrayProcessor(inst, ctx, json, params);
    inst.element = def.element;
}, {
    min(n, params) {
        return this.check(_minLength(n, params));
    },
    nonempty(params) {
        return this.check(_minLength(1, params));
    },
    max(n, params) {
        return this.check(_maxLength(n, params));
    },
    length(n, params) {
        return this.check(_length(n, params));
    },
    unwrap() {
        return this.element;
    },
});
function array(element, params) {
    return _array(ZodArray, element, params);
}
const ZodObject = /*@__PURE__*/ $constructor("ZodObject", (inst, def) => {
    _ensureDefaultMemoizer();
    $ZodObjectJIT.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => objectProcessor(inst, ctx, json, params);
    installLazyProp(inst, "shape", (self) => self._zod.def.shape, false);
}, {
    keyof() {
        return _enum(Object.keys(this._zod.def.shape));
    },
    catchall(catchall) {
        // `mergeDefs` rather than a spread: spreading reads `shape`, and resolving it can mint a whole fresh subtree
        return this.clone(mergeDefs(this._zod.def, { catchall: catchall }));
    },
    passthrough() {
        return this.clone(mergeDefs(this._zod.def, { catchall: unknown() }));
    },
    loose() {
        return this.clone(mergeDefs(this._zod.def, { catchall: unknown() }));
    },
    strict() {
        return this.clone(mergeDefs(this._zod.def, { catchall: never() }));
    },
    strip() {
        return this.clone(mergeDefs(this._zod.def, { catchall: undefined }));
    },
    extend(incoming) {
        return extend(this, incoming);
    },
    safeExtend(incoming) {
        return safeExtend(this, incoming);
    },
    merge(other) {
        return merge(this, other);
    },
    pick(mask) {
        return pick(this, mask);
    },
    omit(mask) {
        return omit(this, mask);
    },
    partial(...args) {
        return partial(ZodOptional, this, args[0]);
    },
    exactPartial(...args) {
        return partial(ZodExactOptional, this, args[0], "exactPartial");
    },
    required(...args) {
        return required(ZodNonOptional, this, args[0]);
    },
});
function object(shape, params) {
    const def = {
        type: "object",
        shape: shape ?? {},
        ...normalizeParams(params),
    };
    return new ZodObject(def);
}
// strictObject
function strictObject(shape, params) {
    return new ZodObject({
        type: "object",
        shape,
        catchall: never(),
        ...normalizeParams(params),
    });
}
const ZodUnion = /*@__PURE__*/ $constructor("ZodUnion", (inst, def) => {
    $ZodUnion.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => unionProcessor(inst, ctx, json, params);
    inst.options = def.options;
});
function union(options, params) {
    return new ZodUnion({
        type: "union",
        options: options,
        ...normalizeParams(params),
    });
}
const ZodIntersection = /*@__PURE__*/ $constructor("ZodIntersection", (inst, def) => {
    $ZodIntersection.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => intersectionProcessor(inst, ctx, json, params);
});
function intersection(left, right) {
    return new ZodIntersection({
        type: "intersection",
        left: left,
        right: right,
    });
}
const ZodRecord = /*@__PURE__*/ $constructor("ZodRecord", (inst, def) => {
    _ensureDefaultMemoizer();
    $ZodRecord.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => recordProcessor(inst, ctx, json, params);
    inst.keyType = def.keyType;
    inst.valueType = def.valueType;
});
function record(keyType, valueType, params) {
    // v3-compat: z.record(valueType, params?) — defaults keyType to z.string()
    if (!valueType || !valueType._zod) {
        return new ZodRecord({
            type: "record",
            keyType: string(),
            valueType: keyType,
            ...normalizeParams(valueType),
        });
    }
    return new ZodRecord({
        type: "record",
        keyType,
        valueType: valueType,
        ...normalizeParams(params),
    });
}
const ZodEnum = /*@__PURE__*/ $constructor("ZodEnum", (inst, def) => {
    $ZodEnum.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => enumProcessor(inst, ctx, json);
    inst.enum = def.entries;
    // reuse the parsed value set so a numeric TS enum's reverse-mapping keys stay out
    inst.options = [...inst._zod.values];
    const keys = new Set(Object.keys(def.entries));
    inst.extract = (values, params) => {
        const newEntries = {};
        for (const value of values) {
            if (keys.has(value)) {
                newEntries[value] = def.entries[value];
            }
            else
                throw new Error(`Key ${value} not found in enum`);
        }
        return new ZodEnum({
            ...def,
            checks: [],
            ...normalizeParams(params),
            entries: newEntries,
        });
    };
    inst.exclude = (values, params) => {
        const newEntries = { ...def.entries };
        for (const value of values) {
            if (keys.has(value)) {
                delete newEntries[value];
            }
            else
                throw new Error(`Key ${value} not found in enum`);
        }
        return new ZodEnum({
            ...def,
            checks: [],
            ...normalizeParams(params),
            entries: newEntries,
        });
    };
});
function _enum(values, params) {
    const entries = Array.isArray(values) ? Object.fromEntries(values.map((v) => [v, v])) : values;
    return new ZodEnum({
        type: "enum",
        entries,
        ...normalizeParams(params),
    });
}
const ZodTransform = /*@__PURE__*/ $constructor("ZodTransform", (inst, def) => {
    _ensureDefaultMemoizer();
    $ZodTransform.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => transformProcessor(inst, ctx, json, params);
    inst._zod.parse = (payload, _ctx) => {
        if (_ctx.direction === "backward") {
            throw new $ZodEncodeError(inst.constructor.name);
        }
        payload.addIssue = (issue$1) => {
            if (typeof issue$1 === "string") {
                payload.issues.push(issue(issue$1, payload.value, def));
            }
            else {
                // for Zod 3 backwards compatibility
                const _issue = issue$1;
                if (_issue.fatal)
                    _issue.continue = false;
                _issue.code ?? (_issue.code = "custom");
                if (!("input" in _issue))
                    _issue.input = payload.value;
                _issue.inst ?? (_issue.inst = inst);
                // _issue.continue ??= true;
                payload.issues.push(issue(_issue));
            }
        };
        const output = def.transform(payload.value, payload);
        if (output instanceof Promise) {
            return output.then((output) => {
                payload.value = output;
                return payload;
            });
        }
        payload.value = output;
        return payload;
    };
});
function transform(fn) {
    return new ZodTransform({
        type: "transform",
        transform: fn,
    });
}
const ZodOptional = /*@__PURE__*/ $constructor("ZodOptional", (inst, def) => {
    $ZodOptional.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => optionalProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function optional(innerType) {
    return new ZodOptional({
        type: "optional",
        innerType: innerType,
    });
}
const ZodExactOptional = /*@__PURE__*/ $constructor("ZodExactOptional", (inst, def) => {
    $ZodExactOptional.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => optionalProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function exactOptional(innerType) {
    return new ZodExactOptional({
        type: "optional",
        innerType: innerType,
    });
}
const ZodNullable = /*@__PURE__*/ $constructor("ZodNullable", (inst, def) => {
    $ZodNullable.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => nullableProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function nullable(innerType) {
    return new ZodNullable({
        type: "nullable",
        innerType: innerType,
    });
}
const ZodDefault = /*@__PURE__*/ $constructor("ZodDefault", (inst, def) => {
    $ZodDefault.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => defaultProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
    inst.removeDefault = inst.unwrap;
});
function _default(innerType, defaultValue) {
    return new ZodDefault({
        type: "default",
        innerType: innerType,
        get defaultValue() {
            return typeof defaultValue === "function" ? defaultValue() : shallowClone(defaultValue);
        },
    });
}
const ZodPrefault = /*@__PURE__*/ $constructor("ZodPrefault", (inst, def) => {
    $ZodPrefault.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => prefaultProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function prefault(innerType, defaultValue) {
    return new ZodPrefault({
        type: "prefault",
        innerType: innerType,
        get defaultValue() {
            return typeof defaultValue === "function" ? defaultValue() : shallowClone(defaultValue);
        },
    });
}
const ZodNonOptional = /*@__PURE__*/ $constructor("ZodNonOptional", (inst, def) => {
    $ZodNonOptional.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => nonoptionalProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function nonoptional(innerType, params) {
    return new ZodNonOptional({
        type: "nonoptional",
        innerType: innerType,
        ...normalizeParams(params),
    });
}
const ZodCatch = /*@__PURE__*/ $constructor("ZodCatch", (inst, def) => {
    $ZodCatch.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => catchProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
    inst.removeCatch = inst.unwrap;
});
function _catch(innerType, catchValue) {
    return new ZodCatch({
        type: "catch",
        innerType: innerType,
        catchValue: (typeof catchValue === "function" ? catchValue : constantCatch(catchValue)),
    });
}
const ZodPipe = /*@__PURE__*/ $constructor("ZodPipe", (inst, def) => {
    $ZodPipe.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => pipeProcessor(inst, ctx, json, params);
    inst.in = def.in;
    inst.out = def.out;
});
function pipe(in_, out) {
    return new ZodPipe({
        type: "pipe",
        in: in_,
        out: out,
        // ...util.normalizeParams(params),
    });
}
const ZodReadonly = /*@__PURE__*/ $constructor("ZodReadonly", (inst, def) => {
    $ZodReadonly.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => readonlyProcessor(inst, ctx, json, params);
    inst.unwrap = () => inst._zod.def.innerType;
});
function readonly(innerType) {
    return new ZodReadonly({
        type: "readonly",
        innerType: innerType,
    });
}
const ZodCustom = /*@__PURE__*/ $constructor("ZodCustom", (inst, def) => {
    $ZodCustom.init(inst, def);
    ZodType.init(inst, def);
    inst._zod.processJSONSchema = (ctx, json, params) => customProcessor(inst, ctx, json, params);
});
function refine(fn, _params = {}) {
    return _refine(ZodCustom, fn, _params);
}
// superRefine
function superRefine(fn, params) {
    return _superRefine(fn, params);
}

function datetime(params) {
    return _isoDateTime(ZodISODateTime, params);
}

/** The forms a host may be written in, for error messages. */
const HOST_FORM = 'local or ssh://user@host[:port]';
const SSH_URL = /^ssh:\/\/(?:([^@/]*)@)?(\[[^\]]*\]|[^:/[\]]*)(?::([^/]*))?(\/?)(.*)$/s;
// Neither may start with '-': they end up as arguments of ssh.
const USER = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const DNS_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
/**
 * Parse a host written as `local` or `ssh://user@host[:port]` (port 22 by default).
 * Returns the host, or a short reason why `value` is not one.
 */
function tryParseHost(value) {
    if (value === 'local')
        return { kind: 'local' };
    const m = SSH_URL.exec(value);
    if (!m)
        return { problem: 'neither local nor an ssh:// URL' };
    const [, user, host = '', port, slash, rest] = m;
    if (user === undefined || user === '')
        return { problem: 'the user is missing' };
    if (!USER.test(user))
        return { problem: `"${user}" is not a user name` };
    let hostname;
    if (host.startsWith('[')) {
        hostname = host.slice(1, -1);
        if (!isIPv6(hostname))
            return { problem: `"${host}" is not an IPv6 address` };
    }
    else {
        if (host === '')
            return { problem: 'the host name is missing' };
        if (!DNS_NAME.test(host))
            return { problem: `"${host}" is not a host name` };
        hostname = host;
    }
    if (slash !== '' && rest !== '')
        return { problem: 'an ssh:// host takes no path' };
    if (rest !== '')
        return { problem: `unexpected "${rest}" after the host` };
    let portNumber = 22;
    if (port !== undefined) {
        portNumber = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
        if (!(portNumber >= 1 && portNumber <= 65535))
            return { problem: `"${port}" is not a port number` };
    }
    return { kind: 'ssh', user, hostname: hostname.toLowerCase(), port: portNumber };
}
/** The host as written canonically: `local` or `ssh://user@host:port` (IPv6 addresses in brackets). */
function hostLabel(host) {
    if (host.kind === 'local')
        return 'local';
    const name = host.hostname.includes(':') ? `[${host.hostname}]` : host.hostname;
    return `ssh://${host.user}@${name}:${host.port}`;
}

/**
 * The schema of sitecycle.yml as written (snake_case keys), with its static defaults.
 * Every schema carries the expected form as its error message, so a problem reads
 * "got <value>; expected <form>". Defaults that depend on other fields (apache listen and
 * server_name from the url) and local paths (resolved against the config file) are applied
 * by load-config.ts when it builds the model.
 */
/** Site names end up in Apache process-group names and paths. */
const SITE_NAME = /^[a-z0-9][a-z0-9_-]{0,30}$/;
const SITE_NAME_FORM = 'a site name of 1 to 31 lowercase letters, digits, _ or -, starting with a letter or digit';
const ENV_NAME$1 = /^[A-Z_][A-Z0-9_]*$/;
// PEP 508 names; PEP 503 normalises any of them.
const DISTRIBUTION_NAME = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;
const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_]*';
const WSGI_ENTRY = new RegExp(`^${IDENTIFIER}(\\.${IDENTIFIER})*:${IDENTIFIER}$`);
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// Paths and names written into Apache config: no whitespace, quotes, backslashes or control characters.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is excluded
const PLAIN = /^[^\s"'\\\x00-\x1f\x7f]+$/;
/** Defaults of the settings that do not depend on other settings. */
const DEFAULTS = {
    python: '/usr/bin/python3',
    role: 'production',
    host: 'local',
    healthPath: '/__version__',
    expectVersion: true,
    healthTimeout: 30,
    configEnv: 'SITECYCLE_CONFIG',
    keepReleases: 5,
    minFreeMb: 200,
    confDir: '/etc/apache2/sites-available',
    enableDir: '/etc/apache2/sites-enabled',
    ctl: ['apache2ctl'],
    user: 'www-data',
    group: 'www-data',
    processes: 1,
    threads: 15,
    shutdownTimeout: 30,
    mode: 'blue-green'
};
/** A custom issue: `form` is the expected form, `reason` (optional) says what is wrong with the value. */
function problem(ctx, value, form, reason) {
    ctx.issues.push({
        code: 'custom',
        message: form,
        input: value,
        params: reason ? { reason } : undefined
    });
    return NEVER;
}
function text(form) {
    return string({ error: form }).min(1, { error: form });
}
function matching(pattern, form) {
    return string({ error: form }).regex(pattern, { error: form });
}
function integer(min, form = `an integer of at least ${min}`) {
    return int({ error: form }).min(min, { error: form });
}
function mapping(shape, form) {
    return strictObject(shape, { error: form });
}
/** An absolute path on a host: normalised, without '..' and without a trailing slash. */
function remotePath(form) {
    return string({ error: form }).transform((value, ctx) => normaliseRemotePath(value, ctx, form));
}
function normaliseRemotePath(value, ctx, form) {
    if (!value.startsWith('/'))
        return problem(ctx, value, form, 'not an absolute path');
    if (value.split('/').includes('..'))
        return problem(ctx, value, form, "contains '..'");
    if (!PLAIN.test(value))
        return problem(ctx, value, form, 'contains whitespace, quotes or control characters');
    const normalised = posix.normalize(value).replace(/\/+$/, '');
    if (normalised === '')
        return problem(ctx, value, form, 'the root directory itself');
    return normalised;
}
/** A path on this machine; load-config.ts resolves it against the config file's directory. */
function localPath(form = 'a file path (absolute, relative to the config file, or starting with ~/)') {
    return string({ error: form })
        .refine(p => p.length > 0 && !p.includes('\0') && !/^~[^/]/.test(p), { error: form });
}
const URL_FORM = 'an http:// or https:// URL such as https://example.org, without user, password, query or fragment';
/** The site's public URL, without a trailing slash so that paths can be appended. */
const siteUrl = string({ error: URL_FORM }).transform((value, ctx) => {
    let url;
    try {
        url = new URL(value);
    }
    catch {
        return problem(ctx, value, URL_FORM, 'not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
        return problem(ctx, value, URL_FORM, `${url.protocol} URL`);
    if (url.username || url.password)
        return problem(ctx, value, URL_FORM, 'has a user or password');
    if (url.search || url.hash || value.includes('?') || value.includes('#')) {
        return problem(ctx, value, URL_FORM, 'has a query or fragment');
    }
    return url.href.replace(/\/+$/, '');
});
const LISTEN_FORM = 'an address and port such as 127.0.0.1:8080, [::1]:8080 or *:80';
/** Whether `value` is an Apache `address:port` where the address is `*` or an IP literal. */
function isListenAddress(value) {
    const m = /^(\*|[0-9.]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(value);
    if (!m)
        return false;
    const [, address, port] = m;
    const ipOk = address === '*' || isIP(address.replace(/^\[|\]$/g, '')) !== 0;
    return ipOk && Number(port) >= 1 && Number(port) <= 65535;
}
const ENABLE_DIR_FORM = 'an absolute directory path such as /etc/apache2/sites-enabled, or null for no enabling link';
const CTL_FORM = 'a command such as apache2ctl or "sudo apache2ctl", as a string or a list of words';
/** apachectl as argv: a string split on whitespace, or a list of words. */
const ctlCommand = unknown().transform((value, ctx) => {
    const words = typeof value === 'string'
        ? value.split(/\s+/).filter(w => w !== '')
        : Array.isArray(value) && value.every(w => typeof w === 'string' && w !== '')
            ? value
            : undefined;
    if (!words || words.length === 0)
        return problem(ctx, value, CTL_FORM);
    return words;
});
const hostSpec = string({ error: HOST_FORM })
    .default(DEFAULTS.host)
    .transform((value, ctx) => {
    const host = tryParseHost(value);
    return 'problem' in host ? problem(ctx, value, HOST_FORM, host.problem) : host;
});
const appSchema = mapping({
    package: matching(DISTRIBUTION_NAME, 'a Python distribution name such as sitecycle-sample (letters, digits, ., _ and -)'),
    wsgi: matching(WSGI_ENTRY, 'a WSGI entry point module.path:attribute, such as sample.wsgi:application'),
    python: remotePath('an absolute path to a Python interpreter, such as /usr/bin/python3').default(DEFAULTS.python),
    tests: text('a command line that runs the tests, such as python -m pytest -q').optional()
}, 'a mapping with package, wsgi and optionally python and tests');
const sshSchema = mapping({ key_file: localPath().optional(), known_hosts: localPath().optional() }, 'a mapping with key_file and known_hosts');
const healthSchema = mapping({
    path: matching(/^\/[^\s]*$/, 'a URL path starting with /, such as /__version__').default(DEFAULTS.healthPath),
    expect_version: boolean({ error: 'true or false' }).default(DEFAULTS.expectVersion),
    timeout: number({ error: 'a positive number of seconds' })
        .positive({ error: 'a positive number of seconds' })
        .default(DEFAULTS.healthTimeout)
}, 'a mapping with path, expect_version and timeout');
const apacheSchema = mapping({
    listen: string({ error: LISTEN_FORM })
        .refine(isListenAddress, { error: LISTEN_FORM })
        .optional(),
    server_name: matching(PLAIN, 'a host name such as example.org').optional(),
    conf_dir: remotePath('an absolute directory path such as /etc/apache2/sites-available').default(DEFAULTS.confDir),
    enable_dir: string({ error: ENABLE_DIR_FORM })
        .nullable()
        .transform((value, ctx) => value === null || value === '' ? null : normaliseRemotePath(value, ctx, ENABLE_DIR_FORM))
        .default(DEFAULTS.enableDir),
    ctl: ctlCommand.default([...DEFAULTS.ctl]),
    user: matching(ACCOUNT_NAME, 'a user name such as www-data').default(DEFAULTS.user),
    group: matching(ACCOUNT_NAME, 'a group name such as www-data').default(DEFAULTS.group),
    processes: integer(1).default(DEFAULTS.processes),
    threads: integer(1).default(DEFAULTS.threads),
    shutdown_timeout: integer(1, 'a whole number of seconds, at least 1').default(DEFAULTS.shutdownTimeout),
    mode: _enum(['blue-green', 'single'], { error: 'blue-green or single' }).default(DEFAULTS.mode)
}, 'a mapping of Apache settings (listen, server_name, conf_dir, enable_dir, ctl, user, group, processes, threads, shutdown_timeout, mode)');
const siteSchema = mapping({
    role: _enum(['production', 'preview', 'mirror', 'old'], {
        error: 'production, preview, mirror or old'
    })
        .default(DEFAULTS.role),
    host: hostSpec,
    root: remotePath('an absolute directory path such as /srv/app/v1'),
    url: siteUrl,
    health: healthSchema.prefault({}),
    config: mapping({
        template: localPath(),
        env: matching(ENV_NAME$1, 'an environment variable name such as SITECYCLE_CONFIG (A-Z, 0-9, _)').default(DEFAULTS.configEnv)
    }, 'a mapping with template and optionally env').optional(),
    hooks: mapping({
        after_install: array(text('a command line'), { error: 'a list of command lines' })
            .default([])
    }, 'a mapping with after_install').prefault({}),
    keep_releases: integer(2).default(DEFAULTS.keepReleases),
    releases: localPath('a directory path (absolute, relative to the config file, or starting with ~/)').optional(),
    preflight: mapping({
        min_free_mb: integer(0, 'a whole number of megabytes (0 or more)').default(DEFAULTS.minFreeMb)
    }, 'a mapping with min_free_mb').prefault({}),
    apache: apacheSchema.prefault({})
}, 'a mapping of site settings with at least root and url');
const configSchema = mapping({
    app: appSchema,
    ssh: sshSchema.optional(),
    sites: record(string(), siteSchema, {
        error: 'a mapping of site names to sites, such as v1: { root: ..., url: ... }'
    })
}, 'a mapping with app, sites and optionally ssh');
/**
 * The keys allowed in the mapping at `path` (a path through the YAML, such as
 * ['sites', 'v1', 'health']), or undefined when no mapping of known keys lives there.
 */
function knownKeysAt(path) {
    let schema = unwrap(configSchema);
    for (const segment of path) {
        if (schema instanceof ZodObject)
            schema = schema.shape[String(segment)];
        else if (schema instanceof ZodRecord)
            schema = schema.valueType;
        else if (schema instanceof ZodArray)
            schema = schema.element;
        else
            return undefined;
        schema = schema && unwrap(schema);
    }
    return schema instanceof ZodObject ? Object.keys(schema.shape) : undefined;
}
function unwrap(schema) {
    let s = schema;
    for (;;) {
        if (s instanceof ZodDefault || s instanceof ZodPrefault || s instanceof ZodOptional) {
            s = s.unwrap();
        }
        else if (s instanceof ZodPipe) {
            s = s.in;
        }
        else {
            return s;
        }
    }
}

/**
 * Problems found in a config file, each tied to the YAML node it is about, and their rendering
 * as `<file>:<line>:<col>: <dotted.path>: <what is wrong>; expected <expected form>`.
 */
/** The ConfigError reporting every problem, one per line, in the order they appear in the file. */
function configError(file, source, problems) {
    const sorted = [...problems].sort((a, b) => a.offset - b.offset);
    const lines = sorted.map(p => {
        const { line, col } = source.lines.linePos(p.offset);
        const where = p.path.length > 0 ? `${dottedPath(p.path)}: ` : '';
        return `${file}:${line}:${col}: ${where}${p.what}${p.expected ? `; expected ${p.expected}` : ''}`;
    });
    return new ConfigError(lines.join('\n'), file, source.lines.linePos(sorted[0]?.offset ?? 0).line);
}
/** `sites.v1.hooks.after_install[0]` */
function dottedPath(path) {
    return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
/** How a value read from YAML is shown in a message. */
function describeValue(value) {
    if (value === undefined)
        return 'nothing';
    if (Array.isArray(value))
        return 'a list';
    if (value !== null && typeof value === 'object')
        return 'a mapping';
    const shown = JSON.stringify(value) ?? String(value);
    return shown.length > 60 ? `${shown.slice(0, 57)}..."` : shown;
}
function locate$1(source, path) {
    const { doc } = source;
    let node = doc.contents;
    let keyOffset;
    for (const segment of path) {
        if (isAlias(node))
            node = node.resolve(doc);
        if (isMap(node)) {
            const pair = node.items.find(p => isScalar(p.key) && String(p.key.value) === String(segment));
            if (!pair)
                return { keyOffset, found: false };
            keyOffset = pair.key.range?.[0] ?? keyOffset;
            node = pair.value;
        }
        else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
            node = node.items[segment];
            keyOffset = node?.range?.[0] ?? keyOffset;
        }
        else {
            return { keyOffset, found: false };
        }
    }
    return { keyOffset, valueOffset: node?.range?.[0], found: true };
}
function startOffset(source) {
    return source.doc.contents?.range?.[0] ?? 0;
}
/** Offset of the node at `path`, or of the entry that should have held it. */
function offsetOf(source, path) {
    const at = locate$1(source, path);
    return (at.found ? (at.valueOffset ?? at.keyOffset) : at.keyOffset) ?? startOffset(source);
}
/** Offset of the key that ends `path` (its last segment is a key of a mapping). */
function keyOffsetOf(source, path) {
    return locate$1(source, path).keyOffset ?? startOffset(source);
}
/** Read the value at `path` in the plain data. */
function valueAt(data, path) {
    let value = data;
    for (const segment of path) {
        if (value === null || typeof value !== 'object')
            return undefined;
        value = value[segment];
    }
    return value;
}
/** Turn zod's issues into problems located in the file. */
function problemsFromIssues(issues, data, source) {
    const problems = [];
    for (const issue of issues) {
        const path = issue.path.filter((s) => typeof s !== 'symbol');
        if (issue.code === 'unrecognized_keys') {
            const known = knownKeysAt(path) ?? [];
            for (const key of issue.keys) {
                const suggestion = didYouMean(key, known);
                problems.push({
                    offset: keyOffsetOf(source, [...path, key]),
                    path,
                    what: `unknown key '${key}'${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
                    expected: known.length > 0 ? `one of ${known.join(', ')}` : undefined
                });
            }
            continue;
        }
        const value = valueAt(data, path);
        const reason = issue.code === 'custom' ? issue.params?.reason : undefined;
        problems.push({
            offset: offsetOf(source, path),
            path,
            what: value === undefined
                ? 'missing'
                : `got ${describeValue(value)}${reason ? ` (${reason})` : ''}`,
            expected: issue.message
        });
    }
    return problems;
}
/** The known word closest to `word`, when it is close enough to be a likely typo. */
function didYouMean(word, known) {
    let best;
    let bestDistance = Infinity;
    for (const candidate of known) {
        const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) {
            best = candidate;
            bestDistance = d;
        }
    }
    const limit = Math.max(1, Math.floor(Math.max(word.length, 4) / 3));
    if (bestDistance <= limit)
        return best;
    // A shortened key, such as `expect` for `expect_version`.
    return word.length >= 3
        ? known.find(k => k.toLowerCase().startsWith(word.toLowerCase()))
        : undefined;
}
function editDistance(a, b) {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

/**
 * Loading sitecycle.yml: YAML → schema (schema.ts) → the SitecycleConfig model (model.ts).
 * Every problem is reported with file, line and column, all of them at once.
 */
/**
 * Parse and validate the text of a config file. `file` names it in messages; relative paths in
 * it are resolved against its directory. Throws ConfigError listing every problem, one per
 * line, each as `<file>:<line>:<col>: <dotted.path>: <what is wrong>; expected <form>`.
 */
function parseConfig(text, file) {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const source = { doc, lines };
    if (doc.errors.length > 0) {
        throw configError(file, source, doc.errors.map(e => ({ offset: e.pos[0], path: [], ...describeYamlError(e) })));
    }
    const data = doc.toJS({ maxAliasCount: 1000 });
    if (data === null || data === undefined) {
        throw configError(file, source, [
            { offset: 0, path: [], what: 'the file is empty', expected: 'a mapping with app and sites' }
        ]);
    }
    const problems = checkSiteNames(data, source);
    const parsed = configSchema.safeParse(data);
    if (!parsed.success)
        problems.push(...problemsFromIssues(parsed.error.issues, data, source));
    if (!parsed.success || problems.length > 0)
        throw configError(file, source, problems);
    const config = toModel(parsed.data, path__default.resolve(file));
    const overlaps = checkRootsApart(config, source);
    if (overlaps.length > 0)
        throw configError(file, source, overlaps);
    return config;
}
/**
 * Read and parse a config file (see parseConfig). Relative paths in it are resolved against the
 * file's directory. Throws ConfigError naming the path when it cannot be read.
 */
async function loadConfig(file) {
    let text;
    try {
        text = await readFile(file, 'utf8');
    }
    catch (error) {
        const code = error.code;
        const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(error);
        const shown = path__default.resolve(file) === file ? file : `${file} (${path__default.resolve(file)})`;
        throw new ConfigError(`cannot read the config file ${shown}: ${why}; expected a readable sitecycle.yml`, file);
    }
    return parseConfig(text, file);
}
/** The site called `name`; ConfigError listing the known sites when there is none. */
function getSite(config, name) {
    const site = Object.hasOwn(config.sites, name) ? config.sites[name] : undefined;
    if (!site) {
        throw new ConfigError(`unknown site '${name}' in ${config.file}; known sites: ${Object.keys(config.sites).join(', ')}`, config.file);
    }
    return site;
}
function describeYamlError(error) {
    if (error.code === 'DUPLICATE_KEY')
        return { what: 'invalid YAML: duplicate key', expected: 'each key once per mapping' };
    if (error.code === 'MULTIPLE_DOCS') {
        return { what: 'invalid YAML: a second document', expected: 'a single YAML document' };
    }
    return { what: `invalid YAML: ${error.message}` };
}
/** Site names must fit Apache process-group names and paths; there must be at least one site. */
function checkSiteNames(data, source) {
    if (data === null || typeof data !== 'object' || Array.isArray(data))
        return [];
    const sites = data.sites;
    if (sites === null || typeof sites !== 'object' || Array.isArray(sites))
        return [];
    const names = Object.keys(sites);
    if (names.length === 0) {
        return [
            {
                offset: offsetOf(source, ['sites']),
                path: ['sites'],
                what: 'no sites',
                expected: 'at least one site'
            }
        ];
    }
    return names
        .filter(name => !SITE_NAME.test(name))
        .map(name => ({
        offset: keyOffsetOf(source, ['sites', name]),
        path: ['sites'],
        what: `bad site name ${describeValue(name)}`,
        expected: SITE_NAME_FORM
    }));
}
/** Two sites on one host may neither share a root nor have one root inside the other. */
function checkRootsApart(config, source) {
    const problems = [];
    const sites = Object.values(config.sites);
    sites.forEach((site, i) => {
        for (const earlier of sites.slice(0, i)) {
            if (hostLabel(site.host) !== hostLabel(earlier.host))
                continue;
            const relation = site.root === earlier.root
                ? 'is also the root of'
                : isInside(site.root, earlier.root)
                    ? 'is inside the root of'
                    : isInside(earlier.root, site.root)
                        ? 'contains the root of'
                        : undefined;
            if (!relation)
                continue;
            problems.push({
                offset: offsetOf(source, ['sites', site.name, 'root']),
                path: ['sites', site.name, 'root'],
                what: `${describeValue(site.root)} ${relation} site ${earlier.name} on ${hostLabel(site.host)}`,
                expected: 'a root of its own for each site on the same host'
            });
            return;
        }
    });
    return problems;
}
function isInside(child, parent) {
    return child.startsWith(`${parent}/`);
}
function toModel(raw, file) {
    const dir = path__default.dirname(file);
    const local = (p) => resolveLocalPath(p, dir);
    const sites = {};
    for (const [name, site] of Object.entries(raw.sites))
        sites[name] = toSite(name, site, local);
    return {
        file,
        app: {
            package: raw.app.package,
            wsgi: raw.app.wsgi,
            python: raw.app.python,
            ...(raw.app.tests !== undefined && { tests: raw.app.tests })
        },
        ssh: {
            ...(raw.ssh?.key_file !== undefined && { keyFile: local(raw.ssh.key_file) }),
            ...(raw.ssh?.known_hosts !== undefined && { knownHostsFile: local(raw.ssh.known_hosts) })
        },
        sites
    };
}
function toSite(name, raw, local) {
    return {
        name,
        role: raw.role,
        host: raw.host,
        root: raw.root,
        url: raw.url,
        health: {
            path: raw.health.path,
            expectVersion: raw.health.expect_version,
            timeout: raw.health.timeout
        },
        ...(raw.config && { config: { template: local(raw.config.template), env: raw.config.env } }),
        hooks: { afterInstall: raw.hooks.after_install },
        keepReleases: raw.keep_releases,
        ...(raw.releases !== undefined && { releases: local(raw.releases) }),
        preflight: { minFreeMb: raw.preflight.min_free_mb },
        apache: toApache(raw.apache, new URL(raw.url))
    };
}
function toApache(raw, url) {
    return {
        listen: raw.listen ?? defaultListen(url),
        serverName: raw.server_name ?? url.hostname,
        confDir: raw.conf_dir,
        ...(raw.enable_dir !== null && { enableDir: raw.enable_dir }),
        ctl: raw.ctl,
        user: raw.user,
        group: raw.group,
        processes: raw.processes,
        threads: raw.threads,
        shutdownTimeout: raw.shutdown_timeout,
        mode: raw.mode
    };
}
/** `<host if an IP literal, else *>:<port, or 80/443>`, from the site's URL. */
function defaultListen(url) {
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    const isIpLiteral = isIP(bare) !== 0;
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return `${isIpLiteral ? url.hostname : '*'}:${port}`;
}
/** Expand ~ to HOME, and resolve a relative path against the config file's directory. */
function resolveLocalPath(p, dir) {
    if (p === '~' || p.startsWith('~/'))
        return path__default.join(process.env.HOME || homedir(), p.slice(1));
    return path__default.resolve(dir, p);
}

/** Build a command; a small convenience so builders read as one line. */
function cmd(argv, extra = {}) {
    return { argv, ...extra };
}
/** Replace every secret in `text` with ***. */
function redact(text, secrets = []) {
    let out = text;
    for (const s of secrets)
        if (s)
            out = out.split(s).join('***');
    return out;
}
/** The command as a human would read it in a log, secrets hidden. */
function describeCommand(c) {
    const line = c.argv.map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
    return redact(line, c.redact);
}

/** A command that exited non-zero: carries host, command, exit code and the tail of stderr. */
class CommandError extends Error {
    host;
    commandLine;
    code;
    stdout;
    stderr;
    constructor(host, commandLine, code, stdout, stderr) {
        const tail = stderr.trim().split('\n').slice(-8).join('\n');
        super(`${commandLine} failed on ${host} with exit code ${code}${tail ? `:\n${tail}` : ''}`);
        this.host = host;
        this.commandLine = commandLine;
        this.code = code;
        this.stdout = stdout;
        this.stderr = stderr;
        this.name = 'CommandError';
    }
}

/**
 * The Executor for the machine this job runs on (a self-hosted runner, or cron on the server).
 * Commands are spawned from their argv, never through a shell.
 */
/** Exit code reported for a command killed after its timeout (the same as coreutils `timeout`). */
const TIMEOUT_EXIT_CODE = 124;
/**
 * Spawn `file` with `args` (no shell), feed its stdin, collect its output and wait for it to end.
 * A signal becomes code 128 + signal number, as a shell reports it. Rejects only when the
 * process cannot be started (the error carries Node's `code`, e.g. ENOENT).
 */
function runProcess(file, args, options = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(file, [...args], {
            cwd: options.cwd,
            env: options.env ?? process.env,
            stdio: ['pipe', 'pipe', 'pipe']
        });
        const out = [];
        const err = [];
        let timedOut = false;
        let settled = false;
        let timer;
        let drainTimer;
        const settle = (fn) => {
            if (settled)
                return;
            settled = true;
            if (timer)
                clearTimeout(timer);
            if (drainTimer)
                clearTimeout(drainTimer);
            fn();
        };
        child.on('error', e => settle(() => reject(e)));
        if (options.stdout)
            child.stdout.pipe(options.stdout);
        else
            child.stdout.on('data', (b) => out.push(b));
        child.stderr.on('data', (b) => err.push(b));
        // A command that exits without reading all its input must not crash us with EPIPE.
        child.stdin.on('error', () => undefined);
        const input = options.input;
        if (input === undefined)
            child.stdin.end();
        else if (typeof input === 'string' || Buffer.isBuffer(input))
            child.stdin.end(input);
        else {
            input.on('error', e => {
                child.kill('SIGKILL');
                settle(() => reject(e));
            });
            input.pipe(child.stdin);
        }
        if (options.timeoutMs !== undefined) {
            timer = setTimeout(() => {
                timedOut = true;
                child.kill('SIGKILL');
            }, options.timeoutMs);
        }
        let exitCode = null;
        let exitSignal = null;
        const finish = async () => {
            if (options.stdout)
                await finished(options.stdout).catch(() => undefined);
            settle(() => {
                let code = exitCode ?? 128 + (exitSignal ? (constants.signals[exitSignal] ?? 0) : 0);
                const stderr = Buffer.concat(err);
                let extra = '';
                if (timedOut) {
                    code = TIMEOUT_EXIT_CODE;
                    extra = `${stderr.length && !stderr.toString().endsWith('\n') ? '\n' : ''}killed after its timeout of ${options.timeoutMs} ms\n`;
                }
                resolve({
                    code,
                    stdout: Buffer.concat(out),
                    stderr: Buffer.concat([stderr, Buffer.from(extra)]),
                    timedOut
                });
            });
        };
        child.on('exit', (code, signal) => {
            exitCode = code;
            exitSignal = signal;
            // A grandchild (or a backgrounded ssh master) may keep our pipes open after the process
            // itself has gone; do not wait for it for ever.
            drainTimer = setTimeout(() => {
                if (options.stdout && !options.stdout.writableEnded) {
                    child.stdout.unpipe(options.stdout);
                    options.stdout.end();
                }
                child.stdout.destroy();
                child.stderr.destroy();
                void finish();
            }, 1000);
        });
        child.on('close', (code, signal) => {
            exitCode = code;
            exitSignal = signal;
            if (drainTimer)
                clearTimeout(drainTimer);
            void finish();
        });
    });
}
/** The process environment with `unsetEnv` removed and `env` added. */
function commandEnv(command, base = process.env) {
    const env = { ...base };
    for (const name of command.unsetEnv ?? [])
        delete env[name];
    return { ...env, ...command.env };
}
/** A RunResult with every secret of the command hidden. */
function redactedResult(command, code, stdout, stderr) {
    return { code, stdout: redact(stdout, command.redact), stderr: redact(stderr, command.redact) };
}
/** Throw the CommandError for a result that is not a success; secrets are already hidden in it. */
function throwUnlessSuccess(host, command, result) {
    if (result.code !== 0) {
        throw new CommandError(host, describeCommand(command), result.code, result.stdout, result.stderr);
    }
    return result;
}
/** Runs commands and moves files on this machine. */
class LocalExecutor {
    name = 'local';
    /** Run a command; throws CommandError when it exits non-zero. Output has `command.redact` hidden. */
    async run(command, options = {}) {
        return throwUnlessSuccess(this.name, command, await this.tryRun(command, options));
    }
    /**
     * Run a command and return how it ended, with `command.redact` hidden in its output. As a shell
     * would: a program that does not exist gives 127, a working directory that does not exist 1 (as bash, Debian's login shell, reports it over SSH),
     * a timeout 124 (the process is killed).
     */
    async tryRun(command, options = {}) {
        const [file, ...args] = command.argv;
        if (file === undefined)
            throw new Error('Cannot run an empty command (argv is [])');
        try {
            const r = await runProcess(file, args, {
                cwd: command.cwd,
                env: commandEnv(command),
                input: command.input,
                timeoutMs: options.timeoutMs
            });
            return redactedResult(command, r.code, r.stdout.toString(), r.stderr.toString());
        }
        catch (e) {
            const code = e.code;
            if (code === 'ENOENT' && command.cwd !== undefined && !(await isDirectory(command.cwd))) {
                return redactedResult(command, 1, '', `cd: ${command.cwd}: No such file or directory\n`);
            }
            if (code === 'ENOENT')
                return redactedResult(command, 127, '', `${file}: command not found\n`);
            if (code === 'EACCES')
                return redactedResult(command, 126, '', `${file}: Permission denied\n`);
            throw e;
        }
    }
    /** Copy a local file to `remotePath` (parents created; mode applied when given). */
    async put(localPath, remotePath, mode) {
        await promises.mkdir(path.dirname(remotePath), { recursive: true });
        await promises.copyFile(localPath, remotePath);
        if (mode !== undefined)
            await promises.chmod(remotePath, mode);
    }
    /** Copy `remotePath` to a local file (parents created). */
    async get(remotePath, localPath) {
        await promises.mkdir(path.dirname(localPath), { recursive: true });
        await promises.copyFile(remotePath, localPath);
    }
    /**
     * Write content (parents created). With a mode, a new file is created private (0600) and then
     * given the mode, so a secret is never readable by others in between.
     */
    async writeFile(remotePath, content, mode) {
        await promises.mkdir(path.dirname(remotePath), { recursive: true });
        await promises.writeFile(remotePath, content, mode === undefined ? {} : { mode: 0o600 });
        if (mode !== undefined)
            await promises.chmod(remotePath, mode);
    }
    /** Read a file as UTF-8; undefined when it does not exist. */
    async readFile(remotePath) {
        try {
            return await promises.readFile(remotePath, 'utf8');
        }
        catch (e) {
            if (e.code === 'ENOENT')
                return undefined;
            throw e;
        }
    }
    /** Nothing to release locally. */
    async close() { }
}
async function isDirectory(p) {
    try {
        return (await promises.stat(p)).isDirectory();
    }
    catch {
        return false;
    }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Quote one word for a POSIX shell: wrapped in single quotes, each `'` written as `'\''`.
 * Any string, including newlines, `$()`, backticks and NUL-free binary, reaches the program intact.
 */
function quoteArg(s) {
    if (s.includes('\0')) {
        throw new SitecycleError(`A command argument contains a NUL byte, which no shell can pass: ${JSON.stringify(s)}`);
    }
    return `'${s.replace(/'/g, `'\\''`)}'`;
}
/**
 * Turn a command into one POSIX sh line that runs it with its working directory and environment:
 * `cd '/x' && env -u PIP_FIND_LINKS A='b' '/usr/bin/python3' '-m' 'pip'`.
 * `env` is used only when there is something to set or unset. Variable names are checked
 * (they cannot be quoted), so a bad name is an error here rather than a shell surprise there.
 */
function toShellLine(command) {
    if (command.argv.length === 0)
        throw new SitecycleError('Cannot run an empty command (argv is [])');
    const words = [];
    const unset = command.unsetEnv ?? [];
    const env = Object.entries(command.env ?? {});
    for (const name of [...unset, ...env.map(([k]) => k)]) {
        if (!ENV_NAME.test(name)) {
            throw new SitecycleError(`Environment variable name ${JSON.stringify(name)} is not valid: use letters, digits and _, not starting with a digit`);
        }
    }
    if (unset.length > 0 || env.length > 0) {
        words.push('env');
        for (const name of unset)
            words.push('-u', name);
        for (const [name, value] of env)
            words.push(`${name}=${quoteArg(value)}`);
    }
    words.push(...command.argv.map(quoteArg));
    const line = words.join(' ');
    if (command.cwd === undefined)
        return line;
    // A directory starting with '-' would be read by cd as an option.
    const dir = command.cwd.startsWith('-') ? `./${command.cwd}` : command.cwd;
    return `cd ${quoteArg(dir)} && ${line}`;
}

/**
 * The Executor for a server driven over SSH with the system OpenSSH client: no agent on the
 * server, only a POSIX shell, coreutils, Python, pip and Apache. One connection per run (an
 * OpenSSH ControlMaster in a private temp dir); host keys checked against a pinned file only.
 */
/** The SSH connection itself failed (not the command run over it); kind is always 'host'. */
class SshConnectionError extends SitecycleError {
    reason;
    host;
    constructor(message, 
    /** What failed. */
    reason, 
    /** `ssh://user@host:port`. */
    host) {
        super(message, 'host');
        this.reason = reason;
        this.host = host;
        this.name = 'SshConnectionError';
    }
}
/** readFile's script exits with this when the file does not exist (cat itself only uses 0 and 1). */
const MISSING_FILE_EXIT = 44;
/** Extra seconds the remote `timeout` gives a command after TERM before KILL. */
const KILL_AFTER_SECONDS = 5;
/** Longest Unix socket path (108 bytes on Linux, with room for ssh's temporary suffix). */
const MAX_SOCKET_PATH = 100;
/** Runs commands and moves files on one server over SSH. */
class SshExecutor {
    /** `ssh://user@host:port`. */
    name;
    options;
    tempDir;
    identityFile;
    connecting;
    masterStarted = false;
    constructor(options) {
        this.options = { ...options, knownHostsFile: path.resolve(options.knownHostsFile) };
        const host = options.hostname.includes(':') ? `[${options.hostname}]` : options.hostname;
        this.name = `ssh://${options.user}@${host}:${options.port}`;
    }
    /**
     * Open the shared connection now (otherwise the first call does): checks the host key against
     * the pinned file and logs in. Throws SshConnectionError when either fails; nothing has run then.
     */
    connect() {
        this.connecting ??= this.startMaster();
        return this.connecting;
    }
    /** Run a command on the server; throws CommandError when it exits non-zero. */
    async run(command, options = {}) {
        return throwUnlessSuccess(this.name, command, await this.tryRun(command, options));
    }
    /**
     * Run a command on the server (as `toShellLine(command)` for the login shell, stdin piped) and
     * return how it ended, with `command.redact` hidden in its output. With a timeout the command runs
     * under the server's coreutils `timeout`, so it is killed there too; exit code 124 then.
     * Throws SshConnectionError when SSH itself fails.
     */
    async tryRun(command, options = {}) {
        const r = await this.exec(command, { timeoutMs: options.timeoutMs });
        return redactedResult(command, r.code, r.stdout.toString(), r.stderr);
    }
    /** Stream a local file to the server (parents created; mode applied when given). */
    async put(localPath, remotePath, mode) {
        await promises.access(localPath, constants$1.R_OK);
        await this.writeFrom(createReadStream(localPath), remotePath, mode);
    }
    /** Stream a file from the server to a local path (parents created; nothing left on failure). */
    async get(remotePath, localPath) {
        await promises.mkdir(path.dirname(localPath), { recursive: true });
        const command = cmd(['cat', '--', remotePath]);
        const out = createWriteStream(localPath);
        try {
            const r = await this.exec(command, { stdout: out });
            throwUnlessSuccess(this.name, command, redactedResult(command, r.code, '', r.stderr));
        }
        catch (e) {
            await promises.rm(localPath, { force: true });
            throw e;
        }
    }
    /**
     * Write content to a file on the server (parents created). With a mode, a new file is created
     * private (umask 077) and then given the mode, so a secret is never readable by others in between.
     */
    async writeFile(remotePath, content, mode) {
        await this.writeFrom(content, remotePath, mode);
    }
    /** Read a file on the server as UTF-8; undefined when it does not exist. */
    async readFile(remotePath) {
        const command = cmd([
            'sh',
            '-c',
            `[ -e "$1" ] || exit ${MISSING_FILE_EXIT}; exec cat -- "$1"`,
            'sh',
            remotePath
        ]);
        const r = await this.exec(command);
        if (r.code === MISSING_FILE_EXIT)
            return undefined;
        return throwUnlessSuccess(this.name, command, redactedResult(command, r.code, r.stdout.toString(), r.stderr)).stdout;
    }
    /** Stop the shared connection (`ssh -O exit`) and remove the temp dir with the key and socket. */
    async close() {
        const dir = this.tempDir;
        if (this.masterStarted) {
            await runProcess(this.sshPath, [...this.sshArgs(), '-O', 'exit', '--', this.options.hostname], {
                timeoutMs: 10_000
            }).catch(() => undefined);
        }
        this.masterStarted = false;
        this.connecting = undefined;
        this.tempDir = undefined;
        this.identityFile = undefined;
        if (dir)
            await promises.rm(dir, { recursive: true, force: true });
    }
    get sshPath() {
        return this.options.sshPath ?? 'ssh';
    }
    async startMaster() {
        const o = this.options;
        if (!(await isReadableFile(o.knownHostsFile))) {
            throw new SshConnectionError(`The pinned known-hosts file ${o.knownHostsFile} for ${this.name} does not exist or cannot be read. ` +
                `Create it with the server's host key line (from \`ssh-keyscan -p ${o.port} ${o.hostname}\`, ` +
                `checked out of band against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).`, 'host-key', this.name);
        }
        if (o.key === undefined && o.keyFile !== undefined && !(await isReadableFile(o.keyFile))) {
            throw new SshConnectionError(`The SSH key file ${o.keyFile} for ${this.name} does not exist or cannot be read.`, 'auth', this.name);
        }
        this.tempDir = await makePrivateTempDir();
        if (o.key !== undefined) {
            this.identityFile = path.join(this.tempDir, 'id');
            await promises.writeFile(this.identityFile, normalizeKey(o.key), { mode: 0o600 });
        }
        else {
            this.identityFile = o.keyFile;
        }
        const timeoutMs = ((o.connectTimeoutSeconds ?? 20) + 10) * 1000;
        const r = await runProcess(this.sshPath, [
            ...this.sshArgs(),
            '-o',
            'ControlMaster=yes',
            '-o',
            'ServerAliveInterval=15',
            '-o',
            'ServerAliveCountMax=4',
            '-N',
            '-f',
            '--',
            o.hostname
        ], { timeoutMs });
        if (r.code !== 0) {
            const stderr = r.stderr.toString();
            throw (this.sshFailure(stderr) ??
                new SshConnectionError(`Cannot connect to ${o.hostname}:${o.port} over SSH (exit code ${r.code}): ${tail(stderr)}`, 'connect', this.name));
        }
        this.masterStarted = true;
    }
    /** Options every ssh call shares; the first value given for an option wins in ssh, so none repeat. */
    sshArgs() {
        const o = this.options;
        if (!this.tempDir)
            throw new Error('SshExecutor used before connect()');
        const args = [
            '-o',
            'BatchMode=yes',
            '-o',
            'StrictHostKeyChecking=yes',
            '-o',
            `UserKnownHostsFile=${sshOptionValue(o.knownHostsFile)}`,
            '-o',
            'GlobalKnownHostsFile=/dev/null',
            // Never write to the pinned file (OpenSSH may otherwise add keys the server announces).
            '-o',
            'UpdateHostKeys=no',
            '-o',
            'IdentitiesOnly=yes',
            '-o',
            `ControlPath=${sshOptionValue(path.join(this.tempDir, 'cm-'), '%C')}`,
            '-o',
            'ControlPersist=120',
            '-o',
            `ConnectTimeout=${o.connectTimeoutSeconds ?? 20}`,
            '-p',
            String(o.port),
            '-l',
            o.user
        ];
        if (this.identityFile)
            args.push('-i', this.identityFile);
        return args;
    }
    /** Run a command through the shared connection; raw result, SSH failures thrown. */
    async exec(command, io = {}) {
        await this.connect();
        const remote = io.timeoutMs === undefined
            ? command
            : {
                ...command,
                argv: [
                    'timeout',
                    `--kill-after=${KILL_AFTER_SECONDS}`,
                    `${io.timeoutMs / 1000}`,
                    ...command.argv
                ]
            };
        const r = await runProcess(this.sshPath, [
            ...this.sshArgs(),
            '-o',
            'ControlMaster=auto',
            '--',
            this.options.hostname,
            toShellLine(remote)
        ], {
            input: io.stdin ?? command.input,
            stdout: io.stdout,
            // Only if the connection itself hangs: the remote `timeout` normally ends it first.
            timeoutMs: io.timeoutMs === undefined ? undefined : io.timeoutMs + (KILL_AFTER_SECONDS + 10) * 1000
        });
        const stderr = r.stderr.toString();
        if (r.code === 255) {
            const failure = this.sshFailure(stderr, command);
            if (failure)
                throw failure;
        }
        return { code: r.code, stdout: r.stdout, stderr };
    }
    async writeFrom(input, remotePath, mode) {
        const script = mode === undefined
            ? 'mkdir -p -- "$2" && cat > "$1"'
            : 'mkdir -p -- "$2" && umask 077 && cat > "$1" && chmod -- "$3" "$1"';
        const args = [remotePath, path.posix.dirname(remotePath)];
        if (mode !== undefined)
            args.push(mode.toString(8).padStart(4, '0'));
        const command = cmd(['sh', '-c', script, 'sh', ...args]);
        const r = await this.exec(command, { stdin: input });
        throwUnlessSuccess(this.name, command, redactedResult(command, r.code, '', r.stderr));
    }
    /**
     * Recognise a failure of ssh itself (exit 255) from its stderr, as opposed to a remote command
     * that exited 255. Only ssh's own message forms are matched, at the start of a line.
     */
    sshFailure(stderr, command) {
        const o = this.options;
        const where = `${o.hostname}:${o.port}`;
        const said = `\nssh said: ${tail(stderr)}`;
        if (/^Host key verification failed/m.test(stderr) ||
            /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
            const changed = /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr);
            const fingerprint = /SHA256:[A-Za-z0-9+/=]+/.exec(stderr)?.[0];
            return new SshConnectionError(`The host key of ${where} is not in the pinned known-hosts file ${o.knownHostsFile}` +
                (changed
                    ? ` (a different key is pinned for it: the server's key changed, or this is not the right server)`
                    : '') +
                (fingerprint ? `; the server presented ${fingerprint}` : '') +
                `. Nothing was run. If this is the right server, add its key to that file: ` +
                `run \`ssh-keyscan -p ${o.port} ${o.hostname}\`, check the fingerprints against ` +
                `\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the server itself (out of band), ` +
                `then append the matching line${changed ? ' in place of the old one' : ''}.`, 'host-key', this.name);
        }
        if (/^\S+: Permission denied \(/m.test(stderr) ||
            /^Too many authentication failures/m.test(stderr)) {
            const key = o.key !== undefined
                ? 'the private key given as content'
                : o.keyFile !== undefined
                    ? `the key ${o.keyFile}`
                    : 'the default keys in ~/.ssh';
            return new SshConnectionError(`SSH login as ${o.user} to ${where} was refused: the server did not accept ${key}. ` +
                `Add its public half (\`ssh-keygen -y -f KEYFILE\` prints it) to ~${o.user}/.ssh/authorized_keys on the server, ` +
                `and use a key without a passphrase (ssh runs in batch mode).${said}`, 'auth', this.name);
        }
        if (/^(ssh|kex_exchange_identification|client_loop|mux_client_\w+|Control socket connect.*|Bad owner or permissions.*):/m.test(stderr) ||
            /^Connection (to .* )?(closed|reset|timed out)/m.test(stderr)) {
            const what = command
                ? `The SSH connection to ${where} failed while running ${describeCommand(command)}`
                : `Cannot connect to ${where} over SSH`;
            return new SshConnectionError(`${what}.${said}`, 'connect', this.name);
        }
        return undefined;
    }
}
/** A private (0700) directory for the key and the control socket, short enough for a socket path. */
async function makePrivateTempDir() {
    const bases = [process.env.RUNNER_TEMP, os.tmpdir(), '/tmp'].filter((b) => !!b);
    // 'cm-' + the 40 hex digits of %C; the socket path must fit in sockaddr_un.
    const base = bases.find(b => path.join(b, 'sitecycle-ssh-XXXXXX', 'cm-').length + 40 <= MAX_SOCKET_PATH) ??
        '/tmp';
    const dir = await promises.mkdtemp(path.join(base, 'sitecycle-ssh-'));
    await promises.chmod(dir, 0o700);
    return dir;
}
/** Key text as OpenSSH wants it: LF line ends and a final newline (secrets often lose it). */
function normalizeKey(key) {
    const k = key.replace(/\r\n?/g, '\n').trim();
    return `${k}\n`;
}
/** A path inside an `-o Option=value` argument: `%` escaped (then `tokens` added), quoted when it holds spaces. */
function sshOptionValue(p, tokens = '') {
    const escaped = p.replace(/%/g, '%%') + tokens;
    return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/(["\\])/g, '\\$1')}"` : escaped;
}
function tail(text, lines = 6) {
    return text.trim().split('\n').slice(-lines).join('\n');
}
async function isReadableFile(p) {
    try {
        await promises.access(p, constants$1.R_OK);
        return (await promises.stat(p)).isFile();
    }
    catch {
        return false;
    }
}

/**
 * The Executor for `host`. For SSH, `ssh.key` (private key content, e.g. from a secret) wins over
 * `ssh.keyFile`; a pinned known-hosts file is required, and its absence is an error here, before
 * any connection is tried. Nothing connects until the first call; close() it when done.
 */
function createExecutor(host, ssh = {}) {
    if (host.kind === 'local')
        return new LocalExecutor();
    const target = `ssh://${host.user}@${host.hostname}:${host.port}`;
    if (!ssh.knownHostsFile) {
        throw new SitecycleError(`No pinned known-hosts file is set, so ${target} cannot be reached safely: set the known-hosts file ` +
            `in the ssh settings of sitecycle.yml (or the action's known-hosts input) to a file holding the server's ` +
            `host key line (from \`ssh-keyscan -p ${host.port} ${host.hostname}\`, checked out of band against ` +
            `\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).`, 'config');
    }
    return new SshExecutor({
        user: host.user,
        hostname: host.hostname,
        port: host.port,
        keyFile: ssh.keyFile,
        key: ssh.key,
        knownHostsFile: ssh.knownHostsFile
    });
}

const SLOTS = ['blue', 'green'];
/** The other slot. */
function otherSlot(slot) {
    return slot === 'blue' ? 'green' : 'blue';
}
/** Name of the placeholder virtualenv the slots point at before the first deploy. */
const EMPTY_RELEASE = '_empty';
function siteLayout(root) {
    const j = (...parts) => [root, ...parts].join('/');
    return {
        root,
        releases: j('releases'),
        release: v => j('releases', v),
        slots: j('slots'),
        slot: s => j('slots', s),
        slotRunDir: s => j('run', s),
        wsgiDir: j('wsgi'),
        wsgiScript: s => j('wsgi', `${s}.wsgi`),
        liveMap: j('live.map'),
        current: j('current'),
        currentScript: j('wsgi', 'current.wsgi'),
        shared: j('shared'),
        snapshots: j('snapshots'),
        maintenance: j('maintenance'),
        state: j('.sitecycle'),
        journal: j('.sitecycle', 'journal.jsonl'),
        lock: j('.sitecycle', 'lock'),
        lockHolder: j('.sitecycle', 'lock', 'holder.json'),
        siteFile: j('.sitecycle', 'site.json'),
        incoming: j('.sitecycle', 'incoming')
    };
}
/**
 * Apache-wide unique daemon group name of a site's slot: the site name plus a short hash of
 * its root, so two sites named alike on one Apache never share a group.
 */
function processGroupName(site, slot) {
    const hash = createHash('sha256').update(site.root).digest('hex').slice(0, 8);
    return `sitecycle-${site.name}-${hash}-${slot}`;
}
/** File name of the vhost sitecycle writes for a site. */
function vhostFileName(site) {
    const hash = createHash('sha256').update(site.root).digest('hex').slice(0, 8);
    return `sitecycle-${site.name}-${hash}.conf`;
}

/** The first line of every vhost sitecycle writes: init refuses to replace a file without it. */
function vhostMarker(site) {
    return `# Managed by sitecycle for site ${site.name} at ${site.root}. Do not edit: sitecycle init rewrites it.`;
}
/** Header that reaches the idle slot; honoured only from loopback. */
const SLOT_HEADER = 'X-Sitecycle-Slot';
/** `apachectl configtest` */
function apacheConfigTest(site) {
    return cmd([...site.apache.ctl, 'configtest']);
}
/** `apachectl graceful`: only at init, never during a deploy (it restarts every daemon group). */
function apacheGraceful(site) {
    return cmd([...site.apache.ctl, 'graceful']);
}
function listenPort(listen) {
    const m = /:(\d+)$/.exec(listen);
    return m ? Number(m[1]) : 80;
}
/**
 * The Apache vhost of a site (blue/green inside one Apache, shared/DESIGN.md): two daemon
 * groups that run all the time, each with python-home at its slot link and its WSGI script
 * preloaded; mod_rewrite picks the group per request from live.map; a header accepted only
 * from loopback reaches the idle group. Pure: returns the file's text.
 */
function renderVhost(site) {
    const l = siteLayout(site.root);
    const a = site.apache;
    const port = listenPort(a.listen);
    const lines = [vhostMarker(site), ''];
    if (port !== 80 && port !== 443)
        lines.push(`Listen ${a.listen}`, '');
    const daemon = (slot, home, runDir) => `WSGIDaemonProcess ${processGroupName(site, slot)} python-home=${home} home=${runDir} ` +
        `user=${a.user} group=${a.group} processes=${a.processes} threads=${a.threads} ` +
        `shutdown-timeout=${a.shutdownTimeout} graceful-timeout=${a.shutdownTimeout} lang=C.UTF-8 locale=C.UTF-8`;
    const wsgiDir = l.wsgiDir;
    if (a.mode === 'blue-green') {
        for (const s of SLOTS)
            lines.push(daemon(s, l.slot(s), l.slotRunDir(s)));
        for (const s of SLOTS)
            lines.push(`WSGIImportScript ${l.wsgiScript(s)} process-group=${processGroupName(site, s)} application-group=%{GLOBAL}`);
    }
    else {
        lines.push(daemon('current', l.current, `${site.root}/run/current`));
        lines.push(`WSGIImportScript ${l.currentScript} process-group=${processGroupName(site, 'current')} application-group=%{GLOBAL}`);
    }
    const group = (s) => processGroupName(site, s);
    const prefix = group('blue').replace(/-blue$/, '-');
    lines.push('', `<VirtualHost ${a.listen}>`, `  ServerName ${a.serverName}`, `  ErrorLog ${site.root}/shared/logs/error.log`, `  CustomLog ${site.root}/shared/logs/access.log combined`, '  RewriteEngine On');
    if (a.mode === 'blue-green') {
        lines.push(`  RewriteMap sitecycle_live txt:${l.liveMap}`, `  # The private route to a slot: the ${SLOT_HEADER} header, from loopback only.`, '  RewriteCond %{REMOTE_ADDR} ^(127\\.0\\.0\\.1|::1)$', `  RewriteCond %{HTTP:${SLOT_HEADER}} ^(blue|green)$`, '  RewriteRule ^ - [E=SITECYCLE_SLOT:%1]', '  # Everyone else goes to the live slot named in live.map.', '  RewriteCond %{ENV:SITECYCLE_SLOT} ^$', '  RewriteRule ^ - [E=SITECYCLE_SLOT:${sitecycle_live:live|blue}]', '  RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$', `  RewriteRule ^/(.*)$ ${wsgiDir}/%1.wsgi/$1 [E=SITECYCLE_GROUP:${prefix}%1,L]`);
    }
    else {
        lines.push(`  RewriteRule ^/(.*)$ ${l.currentScript}/$1 [E=SITECYCLE_GROUP:${group('current')},L]`);
    }
    lines.push(`  <Directory ${wsgiDir}>`, '    Options +ExecCGI', '    SetHandler wsgi-script', '    WSGIProcessGroup %{ENV:SITECYCLE_GROUP}', '    WSGIApplicationGroup %{GLOBAL}', '    WSGIPassAuthorization On', '    Require all granted', '  </Directory>', '</VirtualHost>', '');
    return lines.join('\n');
}
/**
 * The WSGI script of a slot, outside the releases: it tells the application where its
 * rendered config is (the release the slot points at when the daemon starts) and imports the
 * entry point. Before the first deploy the slot holds no release and answers 503.
 */
function renderWsgiScript(site, wsgiEntry, slotPath, slotName) {
    const [module, attr] = wsgiEntry.split(':');
    const configEnv = site.config?.env ?? 'SITECYCLE_CONFIG';
    return `# Managed by sitecycle: site ${site.name}, slot ${slotName}. Do not edit: sitecycle init rewrites it.
import os

_release = os.path.realpath(${JSON.stringify(slotPath)})
os.environ[${JSON.stringify(configEnv)}] = os.path.join(_release, 'app.ini')
os.environ['SITECYCLE_SITE'] = ${JSON.stringify(site.name)}
os.environ['SITECYCLE_SLOT'] = ${JSON.stringify(slotName)}
os.environ['SITECYCLE_RELEASE'] = os.path.basename(_release)

if os.path.exists(os.path.join(_release, 'release.json')):
    from ${module} import ${attr} as application
else:
    def application(environ, start_response):
        start_response('503 Service Unavailable', [('Content-Type', 'text/plain'), ('Retry-After', '60')])
        return [b'site ${site.name} has no release deployed yet\\n']
`;
}

/** `mkdir -p` with a mode for the leaves. */
function makeDirs(dirs, mode = '755') {
    return cmd(['mkdir', '-p', '-m', mode, ...dirs]);
}
/** `mkdir <dir>` without -p: fails when it exists. Atomic, so it is the lock. */
function makeDirExclusive(dir) {
    return cmd(['mkdir', dir]);
}
/** `rm -rf -- <paths>` (callers pass only paths they built from the site layout). */
function removeTree(...paths) {
    return cmd(['rm', '-rf', '--', ...paths]);
}
/** Append text to a file (O_APPEND: whole lines from concurrent writers stay whole). */
function appendFile(path, text) {
    return cmd(['tee', '-a', path], { input: text });
}
/** `chmod <mode> <paths>` */
function changeMode(mode, ...paths) {
    return cmd(['chmod', mode, ...paths]);
}
/** `chown <owner> <paths>` */
function changeOwner(owner, ...paths) {
    return cmd(['chown', owner, ...paths]);
}
/** `ln -sfn <target> <link>` (not atomic: for links nothing serves from yet). */
function makeLink(target, link) {
    return cmd(['ln', '-sfn', target, link]);
}
/** `rm -f -- <path>` */
function removeFile(path) {
    return cmd(['rm', '-f', '--', path]);
}

/**
 * Small Python programs run on the host as `python3 -c <program> args...`. A host needs only
 * Python, pip and Apache (no agent); these give the few operations that must be atomic or
 * must poll on the host itself in one round trip. Each takes its inputs as argv, never
 * interpolated into the program text.
 */
/** argv: map path, slot. Writes `live <slot>` aside, makes its mtime differ from the old map's
 * (mod_rewrite re-reads a txt map only when the mtime changes), renames it over. Prints the
 * slot that was live before. */
const SWITCH_MAP = `
import os, sys
path, slot = sys.argv[1], sys.argv[2]
old = None
try:
    st = os.stat(path)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'live':
                old = parts[1]
except FileNotFoundError:
    st = None
tmp = path + '.tmp.%d' % os.getpid()
with open(tmp, 'w') as f:
    f.write('live %s\\n' % slot)
    f.flush()
    os.fsync(f.fileno())
os.chmod(tmp, 0o644)
if st is not None:
    new = os.stat(tmp).st_mtime_ns
    if new // 1000 <= st.st_mtime_ns // 1000:
        bumped = st.st_mtime_ns + 1000000000
        os.utime(tmp, ns=(bumped, bumped))
os.rename(tmp, path)
d = os.open(os.path.dirname(path) or '.', os.O_RDONLY)
os.fsync(d)
os.close(d)
print(old or '')
`;
/** argv: run dir of the group (its daemons' working directory), expected process count,
 * timeout seconds. Sends SIGINT to every daemon of the group and waits until the same number
 * of new ones run. Prints the new PIDs. Exit 3 when no daemon of the group was found. */
const RESTART_GROUP = `
import os, sys, time, signal
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def pids():
    out = set()
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                if os.readlink('/proc/%s/cwd' % name) == rundir:
                    out.add(int(name))
            except OSError:
                pass
    return out
old = pids()
if not old:
    sys.stderr.write('no daemon process of this group runs (working directory %s): is Apache running with the sitecycle vhost loaded?\\n' % rundir)
    sys.exit(3)
for pid in old:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass
deadline = time.time() + timeout
while time.time() < deadline:
    now = pids()
    fresh = now - old
    if len(fresh) >= want and not (now & old):
        print(' '.join(str(p) for p in sorted(fresh)))
        sys.exit(0)
    time.sleep(0.02)
sys.stderr.write('the daemon processes of this group did not restart within %ss (old: %s, now: %s)\\n' % (timeout, sorted(old), sorted(pids())))
sys.exit(1)
`;
/** argv: rundir. Prints the PIDs of the group's daemons (may be empty). */
const LIST_GROUP = `
import os, sys
rundir = os.path.realpath(sys.argv[1])
out = []
for name in os.listdir('/proc'):
    if name.isdigit():
        try:
            if os.readlink('/proc/%s/cwd' % name) == rundir:
                out.append(name)
        except OSError:
            pass
print(' '.join(sorted(out)))
`;
/** argv: url, host header, slot header ('' for the public route), expected version ('' for
 * any), timeout seconds, successes needed. GETs the url one request at a time (low
 * concurrency: warm-up must not fill Apache's workers) until it answers 200 with the
 * version the given number of times in a row. Prints a JSON line with the last answer. */
const PROBE_HTTP = `
import json, sys, time, urllib.request, urllib.error
url, host, slot, version, timeout, need = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
def matches(body):
    b = body.strip()
    if b == version:
        return True
    try:
        return json.loads(b).get('version') == version
    except Exception:
        return False
deadline = time.time() + timeout
last = {'status': None, 'body': '', 'error': None}
ok = 0
definite = None
while True:
    req = urllib.request.Request(url, headers={'Host': host, 'Connection': 'close', 'User-Agent': 'sitecycle-verify'})
    if slot:
        req.add_header('X-Sitecycle-Slot', slot)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            last = {'status': r.status, 'body': r.read(4000).decode('utf-8', 'replace'), 'error': None}
    except urllib.error.HTTPError as e:
        last = {'status': e.code, 'body': e.read(4000).decode('utf-8', 'replace'), 'error': None}
    except Exception as e:
        last = {'status': None, 'body': '', 'error': '%s: %s' % (type(e).__name__, e)}
    good = last['status'] == 200 and (not version or matches(last['body']))
    ok = ok + 1 if good else 0
    if ok >= need:
        print(json.dumps(last))
        sys.exit(0)
    # A server still starting answers 502-504 or not at all: wait for it up to the timeout.
    # Any other answer comes from the application itself: give it a short grace, then fail.
    if not good and last['status'] not in (None, 502, 503, 504):
        definite = definite or time.time()
        if time.time() - definite >= min(3.0, timeout):
            print(json.dumps(last))
            sys.exit(1)
    else:
        definite = None
    if time.time() >= deadline:
        print(json.dumps(last))
        sys.exit(1)
    time.sleep(0.1 if good else 0.25)
`;
/** argv: path. Prints the free space in MiB of the filesystem holding path (or its nearest
 * existing parent). */
const FREE_SPACE = `
import os, sys
p = sys.argv[1]
while not os.path.exists(p):
    p = os.path.dirname(p) or '/'
s = os.statvfs(p)
print(s.f_bavail * s.f_frsize // (1024 * 1024))
`;
/** argv: link path, target. Points a symlink at target atomically (link aside, rename over). */
const POINT_LINK = `
import os, sys
link, target = sys.argv[1], sys.argv[2]
tmp = link + '.tmp.%d' % os.getpid()
try:
    os.unlink(tmp)
except FileNotFoundError:
    pass
os.symlink(target, tmp)
os.rename(tmp, link)
`;
/** argv: releases dir. Prints a JSON object: release name -> {complete, release.json content or null, bad}. */
const LIST_RELEASES = `
import json, os, sys
d = sys.argv[1]
out = {}
for name in (sorted(os.listdir(d)) if os.path.isdir(d) else []):
    p = os.path.join(d, name)
    if not os.path.isdir(p) or os.path.islink(p):
        continue
    info = None
    try:
        with open(os.path.join(p, 'release.json')) as f:
            info = json.load(f)
    except Exception:
        pass
    out[name] = {'complete': info is not None, 'info': info, 'bad': os.path.exists(os.path.join(p, 'BAD'))}
print(json.dumps(out))
`;
/** argv: slots dir. Prints JSON: slot -> target basename (or null), plus 'live' from live.map. */
const READ_STATE = `
import json, os, sys
root = sys.argv[1]
out = {'slots': {}, 'live': None, 'current': None}
for s in ('blue', 'green'):
    try:
        out['slots'][s] = os.path.basename(os.readlink(os.path.join(root, 'slots', s)))
    except OSError:
        out['slots'][s] = None
try:
    out['current'] = os.path.basename(os.readlink(os.path.join(root, 'current')))
except OSError:
    pass
try:
    with open(os.path.join(root, 'live.map')) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'live':
                out['live'] = parts[1]
except OSError:
    pass
out['initialized'] = os.path.exists(os.path.join(root, '.sitecycle', 'site.json'))
print(json.dumps(out))
`;

/** pip settings a machine may carry that a fresh server does not have: pip runs without them. */
const PIP_HERMETIC_UNSET = [
    'PIP_FIND_LINKS',
    'PIP_INDEX_URL',
    'PIP_EXTRA_INDEX_URL',
    'PIP_NO_INDEX',
    'PIP_USER',
    'PYTHONPATH',
    'PYTHONHOME'
];
const PIP_HERMETIC_ENV = {
    PIP_CONFIG_FILE: '/dev/null',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    PIP_NO_INPUT: '1'
};
const hermetic = { env: PIP_HERMETIC_ENV, unsetEnv: PIP_HERMETIC_UNSET };
/** Run one of the host scripts with the host's Python. */
function hostScript(python, program, args) {
    return cmd([python, '-c', program, ...args]);
}
/** `python3 -m venv --without-pip <dir>`: pip is run from the system Python with --python. */
function createVenv(python, dir) {
    return cmd([python, '-m', 'venv', '--without-pip', dir], {
        unsetEnv: ['PYTHONPATH', 'PYTHONHOME']
    });
}
/** Build a wheel from an sdist offline with the host's setuptools and wheel. */
function pipWheel(python, sdist, outDir) {
    return cmd([
        python,
        '-m',
        'pip',
        'wheel',
        '--no-index',
        '--no-build-isolation',
        '--no-deps',
        '--wheel-dir',
        outDir,
        sdist
    ], hermetic);
}
/** Install a wheel into a virtualenv, offline: dependencies only from the given folders. */
function pipInstall(python, venv, wheel, findLinks) {
    return cmd([
        python,
        '-m',
        'pip',
        '--python',
        `${venv}/bin/python`,
        'install',
        '--no-index',
        ...findLinks.flatMap(d => ['--find-links', d]),
        '--no-compile',
        wheel
    ], hermetic);
}
/** Print the interpreter's version as `3.11.2`. */
function pythonVersion(python) {
    return cmd([python, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
}
/** `python -m pip --version`: pip must be there to install releases. */
function pipVersion(python) {
    return cmd([python, '-m', 'pip', '--version'], hermetic);
}
/** Byte-compile a virtualenv's site-packages so the first request does not pay for it. */
function compileAll(venv) {
    return cmd([`${venv}/bin/python`, '-m', 'compileall', '-q', '-j', '0', `${venv}/lib`]);
}

/**
 * Listing the entries of release archives in Node, without Python or external tools:
 * gzip-compressed tar (ustar prefix, GNU long names and links, pax path/linkpath/size) and
 * zip (central directory, zip64, each entry's local header and CRC checked). Names are
 * computed the way Python's tarfile and zipfile compute them, since pip extracts with those.
 */
/** The archive cannot be read: truncated, corrupt, or uses something we do not support. */
class ArchiveFormatError extends Error {
    constructor(message) {
        super(message);
        this.name = 'ArchiveFormatError';
    }
}
// ---- tar ----------------------------------------------------------------------------------
const BLOCK = 512;
/** Largest long-name or pax record block we keep in memory. */
const MAX_META_SIZE = 1024 * 1024;
function cString(buf, start, length) {
    const field = buf.subarray(start, start + length);
    const nul = field.indexOf(0);
    return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8');
}
/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function tarNumber(buf, start, length, offset) {
    const field = buf.subarray(start, start + length);
    if (field[0] === 0x80 || field[0] === 0xff) {
        if (field[0] === 0xff)
            throw new ArchiveFormatError(`negative number in tar header at byte ${offset}`);
        let n = 0;
        for (let i = 1; i < field.length; i++)
            n = n * 256 + field[i];
        if (!Number.isSafeInteger(n))
            throw new ArchiveFormatError(`number too large in tar header at byte ${offset}`);
        return n;
    }
    const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
    if (text === '')
        return 0;
    if (!/^[0-7]+$/.test(text)) {
        throw new ArchiveFormatError(`bad number '${text}' in tar header at byte ${offset}`);
    }
    return parseInt(text, 8);
}
function headerChecksumOk(header, offset) {
    const stored = tarNumber(header, 148, 8, offset);
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
        const b = i >= 148 && i < 156 ? 0x20 : header[i];
        unsigned += b;
        signed += b > 127 ? b - 256 : b;
    }
    return stored === unsigned || stored === signed;
}
/** Parse pax extended header records: `<length> <key>=<value>\n`. */
function parsePax(data, offset) {
    const records = new Map();
    let pos = 0;
    while (pos < data.length) {
        if (data[pos] === 0)
            break;
        const space = data.indexOf(0x20, pos);
        const length = space === -1 ? NaN : Number(data.toString('latin1', pos, space));
        if (!Number.isInteger(length) || length <= 0 || pos + length > data.length) {
            throw new ArchiveFormatError(`bad pax header record at byte ${offset}`);
        }
        const record = data.toString('utf8', space + 1, pos + length - 1);
        const eq = record.indexOf('=');
        if (eq === -1 || data[pos + length - 1] !== 0x0a) {
            throw new ArchiveFormatError(`bad pax header record at byte ${offset}`);
        }
        records.set(record.slice(0, eq), record.slice(eq + 1));
        pos += length;
    }
    return records;
}
const TAR_TYPES = {
    '0': 'file',
    '\0': 'file',
    '7': 'file',
    '1': 'hardlink',
    '2': 'symlink',
    '5': 'directory'
};
const TAR_OTHER = {
    '3': 'character device',
    '4': 'block device',
    '6': 'fifo',
    S: 'GNU sparse file',
    D: 'GNU dump directory',
    M: 'GNU multi-volume continuation',
    V: 'GNU volume label'
};
/** Tar stream parser: fed bytes in chunks, it collects the entries. */
class TarParser {
    entries = [];
    pending = Buffer.alloc(0);
    /** Bytes consumed so far (for messages). */
    offset = 0;
    /** Data bytes (with padding) still to skip or collect for the current header. */
    dataLeft = 0;
    /** Meaningful bytes of the current data (the rest is padding). */
    dataSize = 0;
    collecting;
    longName;
    longLink;
    pax;
    zeroBlocks = 0;
    ended = false;
    push(chunk) {
        if (this.ended)
            return;
        this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
        while (!this.ended) {
            if (this.dataLeft > 0) {
                if (this.pending.length === 0)
                    return;
                const take = Math.min(this.dataLeft, this.pending.length);
                if (this.collecting)
                    this.collecting.chunks.push(this.pending.subarray(0, take));
                this.consume(take);
                this.dataLeft -= take;
                if (this.dataLeft === 0 && this.collecting)
                    this.finishMeta();
                continue;
            }
            if (this.pending.length < BLOCK)
                return;
            const header = this.pending.subarray(0, BLOCK);
            const headerOffset = this.offset;
            this.consume(BLOCK);
            this.readHeader(header, headerOffset);
        }
    }
    end() {
        if (this.ended)
            return;
        if (this.dataLeft > 0 || this.pending.length > 0) {
            throw new ArchiveFormatError(`tar data ends in the middle of an entry (after ${this.offset} bytes)`);
        }
        if (this.zeroBlocks === 0) {
            throw new ArchiveFormatError(`tar data ends without its end-of-archive marker (after ${this.offset} bytes)`);
        }
    }
    consume(n) {
        this.pending = this.pending.subarray(n);
        this.offset += n;
    }
    readHeader(header, headerOffset) {
        if (header.every(b => b === 0)) {
            // One zero block already ends the archive for Python's tarfile; two is the standard.
            this.zeroBlocks++;
            if (this.zeroBlocks >= 2)
                this.ended = true;
            return;
        }
        if (this.zeroBlocks > 0) {
            throw new ArchiveFormatError(`tar entry after the end-of-archive marker at byte ${headerOffset}`);
        }
        if (!headerChecksumOk(header, headerOffset)) {
            throw new ArchiveFormatError(`tar header checksum mismatch at byte ${headerOffset}`);
        }
        const type = String.fromCharCode(header[156]);
        let size = tarNumber(header, 124, 12, headerOffset);
        if (type === 'L' || type === 'K' || type === 'x' || type === 'X' || type === 'g') {
            if (size > MAX_META_SIZE) {
                throw new ArchiveFormatError(`tar metadata entry of ${size} bytes at byte ${headerOffset} is too large`);
            }
            this.collecting = { type, chunks: [], headerOffset };
            this.dataSize = size;
            this.dataLeft = Math.ceil(size / BLOCK) * BLOCK;
            if (this.dataLeft === 0)
                this.finishMeta();
            return;
        }
        let name = cString(header, 0, 100);
        const prefix = cString(header, 345, 155);
        // Python's tarfile joins the prefix for every non-GNU type, whatever the magic says.
        if (prefix)
            name = `${prefix}/${name}`;
        let linkTarget = cString(header, 157, 100);
        if (this.longName !== undefined)
            name = this.longName;
        if (this.longLink !== undefined)
            linkTarget = this.longLink;
        const pax = this.pax;
        if (pax?.has('path'))
            name = pax.get('path');
        if (pax?.has('linkpath'))
            linkTarget = pax.get('linkpath');
        if (pax?.has('size')) {
            const paxSize = Number(pax.get('size'));
            if (!Number.isSafeInteger(paxSize) || paxSize < 0) {
                throw new ArchiveFormatError(`bad pax size for entry '${name}'`);
            }
            size = paxSize;
        }
        this.longName = this.longLink = this.pax = undefined;
        let entryType = TAR_TYPES[type] ?? 'other';
        if (type === '\0' && name.endsWith('/'))
            entryType = 'directory';
        const entry = { name, type: entryType };
        if (entryType === 'symlink' || entryType === 'hardlink')
            entry.linkTarget = linkTarget;
        if (entryType === 'other')
            entry.description = TAR_OTHER[type] ?? `entry of unknown type '${type}'`;
        this.entries.push(entry);
        // Links, directories and devices carry no data in tar.
        const hasData = entryType === 'file' || entryType === 'other';
        this.dataLeft = hasData ? Math.ceil(size / BLOCK) * BLOCK : 0;
    }
    finishMeta() {
        const meta = this.collecting;
        if (!meta)
            return;
        this.collecting = undefined;
        const data = Buffer.concat(meta.chunks).subarray(0, this.dataSize);
        if (meta.type === 'L')
            this.longName = cString(data, 0, data.length);
        else if (meta.type === 'K')
            this.longLink = cString(data, 0, data.length);
        else {
            const records = parsePax(data, meta.headerOffset);
            if (meta.type === 'g') {
                // A global path would rename every later member; no honest sdist has one.
                if (records.has('path') || records.has('linkpath')) {
                    throw new ArchiveFormatError(`global pax header at byte ${meta.headerOffset} sets a path`);
                }
            }
            else {
                this.pax = records;
            }
        }
    }
}
/** List the entries of a gzip-compressed tar file, reading it as a stream. */
async function listTarGzEntries(file) {
    const parser = new TarParser();
    try {
        const input = createReadStream(file);
        const gunzip = createGunzip();
        // pipe() does not pass read errors on; without this a missing file would never end.
        input.on('error', err => gunzip.destroy(err));
        for await (const chunk of input.pipe(gunzip))
            parser.push(chunk);
    }
    catch (err) {
        if (err instanceof ArchiveFormatError)
            throw err;
        const code = err.code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
            throw err;
        throw new ArchiveFormatError(`gzip data is corrupt or truncated (${err.message})`);
    }
    parser.end();
    return parser.entries;
}
// ---- zip ----------------------------------------------------------------------------------
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024;
let crcTable;
/** CRC-32 (IEEE), as zip stores it. */
function crc32(data) {
    if (!crcTable) {
        crcTable = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
            let c = n;
            for (let k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            crcTable[n] = c >>> 0;
        }
    }
    let crc = 0xffffffff;
    for (let i = 0; i < data.length; i++)
        crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
}
async function readAt(handle, position, length) {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, position);
    if (bytesRead !== length) {
        throw new ArchiveFormatError(`zip data ends early: wanted ${length} bytes at byte ${position}`);
    }
    return buf;
}
function readUInt64(buf, at) {
    const n = buf.readBigUInt64LE(at);
    if (n > BigInt(Number.MAX_SAFE_INTEGER))
        throw new ArchiveFormatError('zip64 value too large');
    return Number(n);
}
async function readCentralDirectory(handle, fileSize) {
    if (fileSize < 22)
        throw new ArchiveFormatError('too short to be a zip file');
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tailStart = fileSize - tailLength;
    const tail = await readAt(handle, tailStart, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
        if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tail.length) {
            eocd = i;
            break;
        }
    }
    if (eocd === -1) {
        throw new ArchiveFormatError('no end of central directory record: not a zip file, or truncated');
    }
    const eocdPos = tailStart + eocd;
    if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) {
        throw new ArchiveFormatError('multi-disk zip archives are not supported');
    }
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdEnd = eocdPos;
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
        const locatorPos = eocdPos - 20;
        const locator = locatorPos >= 0 ? await readAt(handle, locatorPos, 20) : undefined;
        if (!locator || locator.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) {
            throw new ArchiveFormatError('zip64 end of central directory locator missing');
        }
        const zip64Pos = readUInt64(locator, 8);
        const zip64 = await readAt(handle, zip64Pos, 56);
        if (zip64.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
            throw new ArchiveFormatError('zip64 end of central directory record missing');
        }
        count = readUInt64(zip64, 32);
        cdSize = readUInt64(zip64, 40);
        cdOffset = readUInt64(zip64, 48);
        cdEnd = zip64Pos;
    }
    if (cdOffset + cdSize !== cdEnd) {
        throw new ArchiveFormatError(`central directory (${cdSize} bytes at byte ${cdOffset}) is not where the end record says`);
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY)
        throw new ArchiveFormatError('central directory is too large');
    const cd = await readAt(handle, cdOffset, cdSize);
    const entries = [];
    let pos = 0;
    for (let i = 0; i < count; i++) {
        if (pos + 46 > cd.length || cd.readUInt32LE(pos) !== SIG_CENTRAL) {
            throw new ArchiveFormatError(`central directory entry ${i + 1} of ${count} is corrupt`);
        }
        const madeBy = cd.readUInt16LE(pos + 4) >> 8;
        const nameLength = cd.readUInt16LE(pos + 28);
        const extraLength = cd.readUInt16LE(pos + 30);
        const commentLength = cd.readUInt16LE(pos + 32);
        const end = pos + 46 + nameLength + extraLength + commentLength;
        if (end > cd.length)
            throw new ArchiveFormatError(`central directory entry ${i + 1} is truncated`);
        const flags = cd.readUInt16LE(pos + 8);
        const rawName = cd.subarray(pos + 46, pos + 46 + nameLength);
        // Bit 11: UTF-8 name; otherwise CP437, identical to ASCII for the characters checked.
        const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1');
        const entry = {
            name,
            method: cd.readUInt16LE(pos + 10),
            flags,
            crc: cd.readUInt32LE(pos + 16),
            compressedSize: cd.readUInt32LE(pos + 20),
            size: cd.readUInt32LE(pos + 24),
            localOffset: cd.readUInt32LE(pos + 42)
        };
        if (madeBy === 3)
            entry.unixMode = cd.readUInt32LE(pos + 38) >>> 16;
        applyZip64Extra(entry, cd.subarray(pos + 46 + nameLength, pos + 46 + nameLength + extraLength));
        entries.push(entry);
        pos = end;
    }
    if (pos !== cd.length)
        throw new ArchiveFormatError('central directory has trailing bytes');
    return entries;
}
function applyZip64Extra(entry, extra) {
    let pos = 0;
    while (pos + 4 <= extra.length) {
        const id = extra.readUInt16LE(pos);
        const length = extra.readUInt16LE(pos + 2);
        if (id === 0x0001) {
            let at = pos + 4;
            const take = () => {
                if (at + 8 > pos + 4 + length)
                    throw new ArchiveFormatError(`bad zip64 extra field for '${entry.name}'`);
                const n = readUInt64(extra, at);
                at += 8;
                return n;
            };
            if (entry.size === 0xffffffff)
                entry.size = take();
            if (entry.compressedSize === 0xffffffff)
                entry.compressedSize = take();
            if (entry.localOffset === 0xffffffff)
                entry.localOffset = take();
            return;
        }
        pos += 4 + length;
    }
}
/** Read one entry's data, checking its local header, size and CRC. */
async function readZipData(handle, fileSize, entry) {
    const local = await readAt(handle, entry.localOffset, 30);
    if (local.readUInt32LE(0) !== SIG_LOCAL) {
        throw new ArchiveFormatError(`local header of '${entry.name}' is missing (corrupt zip)`);
    }
    const nameLength = local.readUInt16LE(26);
    const extraLength = local.readUInt16LE(28);
    const localName = (await readAt(handle, entry.localOffset + 30, nameLength)).toString(entry.flags & 0x800 ? 'utf8' : 'latin1');
    if (localName !== entry.name) {
        throw new ArchiveFormatError(`entry '${entry.name}' is named '${localName}' in its local header`);
    }
    if (entry.flags & 0x1)
        throw new ArchiveFormatError(`entry '${entry.name}' is encrypted`);
    const dataStart = entry.localOffset + 30 + nameLength + extraLength;
    if (dataStart + entry.compressedSize > fileSize) {
        throw new ArchiveFormatError(`data of '${entry.name}' runs past the end of the file`);
    }
    const raw = await readAt(handle, dataStart, entry.compressedSize);
    let data;
    if (entry.method === 0)
        data = raw;
    else if (entry.method === 8) {
        try {
            data = inflateRawSync(raw);
        }
        catch (err) {
            throw new ArchiveFormatError(`data of '${entry.name}' is corrupt (${err.message})`);
        }
    }
    else {
        throw new ArchiveFormatError(`entry '${entry.name}' uses unsupported compression method ${entry.method}`);
    }
    if (data.length !== entry.size || crc32(data) !== entry.crc) {
        throw new ArchiveFormatError(`data of '${entry.name}' does not match its size or CRC (corrupt zip)`);
    }
    return data;
}
async function withZip(file, fn) {
    const handle = await fs.open(file, 'r');
    try {
        const { size } = await handle.stat();
        return await fn(handle, size, await readCentralDirectory(handle, size));
    }
    finally {
        await handle.close();
    }
}
/**
 * List the entries of a zip file (a wheel), checking every entry's local header, size and
 * CRC so that a corrupt or truncated file is found now rather than at install time.
 */
async function listZipEntries(file) {
    return withZip(file, async (handle, size, central) => {
        const entries = [];
        for (const c of central) {
            const data = await readZipData(handle, size, c);
            const fileType = c.unixMode === undefined ? undefined : c.unixMode & 0o170000;
            if (fileType === 0o120000) {
                entries.push({ name: c.name, type: 'symlink', linkTarget: data.toString('utf8') });
            }
            else if (c.name.endsWith('/') || fileType === 0o040000) {
                entries.push({ name: c.name, type: 'directory' });
            }
            else if (fileType === undefined || fileType === 0o100000 || fileType === 0) {
                entries.push({ name: c.name, type: 'file' });
            }
            else {
                entries.push({
                    name: c.name,
                    type: 'other',
                    description: `special file (mode ${fileType.toString(8)})`
                });
            }
        }
        return entries;
    });
}
/** The data of one member of a zip file, or undefined when there is no such member. */
async function readZipMember(file, name) {
    return withZip(file, async (handle, size, central) => {
        const entry = central.find(c => c.name === name);
        return entry ? readZipData(handle, size, entry) : undefined;
    });
}
/** The names of the members of a zip file (central directory only; data is not read). */
async function listZipNames(file) {
    return withZip(file, async (_handle, _size, central) => central.map(c => c.name));
}

/**
 * PEP 440 versions: parsing, normalising, ordering, and the small subset of version
 * specifiers that `Requires-Python` uses. Written to match what pip (packaging) decides,
 * so a version sitecycle accepts is one pip will install.
 */
// The regular expression of PEP 440 appendix B (as used by packaging), anchored.
const VERSION_PATTERN = new RegExp('^\\s*v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?' +
    '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' +
    '\\s*$', 'i');
const PRE_LABELS = {
    a: 'a',
    alpha: 'a',
    b: 'b',
    beta: 'b',
    c: 'rc',
    rc: 'rc',
    pre: 'rc',
    preview: 'rc'
};
function invalidVersion(text) {
    return new SitecycleError(`invalid version '${text}': expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`, 'input');
}
function toInt(text, whole) {
    const n = Number(text);
    // Segments beyond 2^53 would compare wrongly as numbers; no real version has them.
    if (!Number.isSafeInteger(n))
        throw invalidVersion(whole);
    return n;
}
/** Parse a PEP 440 version; throws SitecycleError naming the text when it is not one. */
function parseVersion(text) {
    const m = typeof text === 'string' ? VERSION_PATTERN.exec(text) : null;
    if (!m || !m.groups)
        throw invalidVersion(String(text));
    const g = m.groups;
    const version = {
        epoch: g.epoch ? toInt(g.epoch, text) : 0,
        release: g.release.split('.').map(s => toInt(s, text)),
        normalized: ''
    };
    if (g.pre_l) {
        version.pre = { label: PRE_LABELS[g.pre_l.toLowerCase()], number: toInt(g.pre_n ?? '0', text) };
    }
    if (g.post)
        version.post = toInt(g.post_n1 ?? g.post_n2 ?? '0', text);
    if (g.dev)
        version.dev = toInt(g.dev_n ?? '0', text);
    if (g.local)
        version.local = g.local.toLowerCase().replace(/[-_]/g, '.');
    version.normalized = formatVersion(version);
    return version;
}
function formatVersion(v) {
    let s = v.epoch ? `${v.epoch}!` : '';
    s += v.release.join('.');
    if (v.pre)
        s += `${v.pre.label}${v.pre.number}`;
    if (v.post !== undefined)
        s += `.post${v.post}`;
    if (v.dev !== undefined)
        s += `.dev${v.dev}`;
    if (v.local)
        s += `+${v.local}`;
    return s;
}
/** True when `text` is a PEP 440 version. */
function isValidVersion(text) {
    return typeof text === 'string' && VERSION_PATTERN.test(text);
}
/** The normalised form of a PEP 440 version (`1.0.0-RC1` → `1.0.0rc1`, `v1.0` → `1.0`). */
function normalizeVersion(text) {
    return parseVersion(text).normalized;
}
function asVersion(v) {
    return typeof v === 'string' ? parseVersion(v) : v;
}
function compareNumbers(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
function compareRelease(a, b) {
    // Trailing zeros do not count: 1.0 == 1.0.0.
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
        const c = compareNumbers(a[i] ?? 0, b[i] ?? 0);
        if (c)
            return c;
    }
    return 0;
}
const PRE_RANK = { a: 0, b: 1, rc: 2 };
/** Where the pre-release part sorts: dev-only releases first, final releases last. */
function preKey(v) {
    if (!v.pre && v.post === undefined && v.dev !== undefined)
        return [-1, 0, 0];
    if (!v.pre)
        return [1, 0, 0];
    return [0, PRE_RANK[v.pre.label], v.pre.number];
}
function compareTuple(a, b) {
    for (let i = 0; i < a.length; i++) {
        const c = compareNumbers(a[i], b[i]);
        if (c)
            return c;
    }
    return 0;
}
function compareLocal(a, b) {
    if (a === b)
        return 0;
    if (a === undefined)
        return -1;
    if (b === undefined)
        return 1;
    const as = a.split('.');
    const bs = b.split('.');
    for (let i = 0; i < Math.min(as.length, bs.length); i++) {
        const an = /^[0-9]+$/.test(as[i]);
        const bn = /^[0-9]+$/.test(bs[i]);
        // Numeric segments sort after alphanumeric ones, and compare as numbers.
        if (an && bn) {
            const c = compareNumbers(Number(as[i]), Number(bs[i]));
            if (c)
                return c;
        }
        else if (an !== bn) {
            return an ? 1 : -1;
        }
        else if (as[i] !== bs[i]) {
            return as[i] < bs[i] ? -1 : 1;
        }
    }
    return compareNumbers(as.length, bs.length);
}
/**
 * Order two versions as PEP 440 does: negative when a < b, 0 when equal, positive when a > b.
 * 1.0.dev0 < 1.0a1 < 1.0b1 < 1.0rc1 < 1.0 < 1.0.post1 < 1.0.1, and 1.0 == 1.0.0.
 */
function compareVersions(a, b) {
    const x = asVersion(a);
    const y = asVersion(b);
    return (compareNumbers(x.epoch, y.epoch) ||
        compareRelease(x.release, y.release) ||
        compareTuple(preKey(x), preKey(y)) ||
        compareNumbers(x.post ?? -1, y.post ?? -1) ||
        compareNumbers(x.dev ?? Infinity, y.dev ?? Infinity) ||
        compareLocal(x.local, y.local));
}
/** True when the version is a pre-release or a development release. */
function isPrerelease(v) {
    const x = asVersion(v);
    return x.pre !== undefined || x.dev !== undefined;
}
const SDIST_SUFFIXES = ['.tar.gz', '.zip'];
/**
 * Split a release file name: `name-1.0.0.tar.gz` (sdist; the name may hold hyphens with
 * older setuptools) or `name-1.0.0-py3-none-any.whl` (wheel). Throws SitecycleError when the
 * name is neither or its version is not PEP 440.
 */
function parseReleaseFileName(file) {
    const base = path__default.basename(file);
    if (base.endsWith('.whl')) {
        const parts = base.slice(0, -'.whl'.length).split('-');
        if (parts.length !== 5 && parts.length !== 6) {
            throw new SitecycleError(`'${base}' is not a wheel file name: expected name-version-pytag-abitag-platform.whl`, 'release');
        }
        if (!isValidVersion(parts[1]))
            throw invalidVersion(parts[1]);
        return { name: parts[0], version: parts[1], kind: 'wheel' };
    }
    const suffix = SDIST_SUFFIXES.find(s => base.endsWith(s));
    const stem = suffix ? base.slice(0, -suffix.length) : '';
    const dash = stem.lastIndexOf('-');
    if (!suffix || dash <= 0 || dash === stem.length - 1) {
        throw new SitecycleError(`'${base}' is not a release file name: expected name-version.tar.gz or name-version-py3-none-any.whl`, 'release');
    }
    const version = stem.slice(dash + 1);
    if (!isValidVersion(version))
        throw invalidVersion(version);
    return { name: stem.slice(0, dash), version, kind: 'sdist' };
}
/** A distribution name normalised as PEP 503 does (`Sitecycle_Sample` → `sitecycle-sample`). */
function normalizeProjectName(name) {
    return name.toLowerCase().replace(/[-_.]+/g, '-');
}
// ---- Requires-Python ----------------------------------------------------------------------
const SPECIFIER_PATTERN = /^(~=|===|==|!=|<=|>=|<|>)\s*(\S+)$/;
function invalidSpecifier(spec, why) {
    return new SitecycleError(`invalid Requires-Python '${spec}': ${why}; expected specifiers such as >=3.9 or >=3.8,<4`, 'input');
}
function publicOf(v) {
    return v.local ? { ...v, local: undefined } : v;
}
function baseRelease(v) {
    return { epoch: v.epoch, release: v.release, normalized: '' };
}
/** `==X.*`: the candidate's release starts with the prefix (padded with zeros). */
function matchesPrefix(candidate, prefixText, spec) {
    if (!/^(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*$/.test(prefixText)) {
        throw invalidSpecifier(spec, `'${prefixText}.*' must be a release prefix such as 3.11.*`);
    }
    const prefix = parseVersion(prefixText);
    if (candidate.epoch !== prefix.epoch)
        return false;
    return prefix.release.every((n, i) => (candidate.release[i] ?? 0) === n);
}
function satisfiesOne(candidate, raw, clause, spec) {
    const m = SPECIFIER_PATTERN.exec(clause);
    if (!m)
        throw invalidSpecifier(spec, `'${clause}' is not a version specifier`);
    const [, op, target] = m;
    // Arbitrary equality compares the text itself, as packaging does.
    if (op === '===')
        return raw.trim().toLowerCase() === target.toLowerCase();
    if (op === '==' || op === '!=') {
        let equal;
        if (target.endsWith('.*')) {
            equal = matchesPrefix(candidate, target.slice(0, -2), spec);
        }
        else {
            if (!isValidVersion(target))
                throw invalidSpecifier(spec, `'${target}' is not a version`);
            const t = parseVersion(target);
            // Without a local label in the specifier, the candidate's local label is ignored.
            equal = compareVersions(t.local ? candidate : publicOf(candidate), t) === 0;
        }
        return op === '==' ? equal : !equal;
    }
    if (!isValidVersion(target))
        throw invalidSpecifier(spec, `'${target}' is not a version`);
    const t = parseVersion(target);
    if (t.local)
        throw invalidSpecifier(spec, `'${op}' does not take a local version`);
    const c = publicOf(candidate);
    switch (op) {
        case '~=': {
            if (t.release.length < 2)
                throw invalidSpecifier(spec, `'~=' needs at least two parts`);
            const prefix = t.release.slice(0, -1).join('.');
            return (compareVersions(c, t) >= 0 &&
                matchesPrefix(c, `${t.epoch ? `${t.epoch}!` : ''}${prefix}`, spec));
        }
        case '>=':
            return compareVersions(c, t) >= 0;
        case '<=':
            return compareVersions(c, t) <= 0;
        case '>':
            if (compareVersions(c, t) <= 0)
                return false;
            // >3.9 does not admit 3.9.post1 (PEP 440), unless the specifier is itself a post-release.
            if (t.post === undefined && c.post !== undefined) {
                return compareVersions(baseRelease(c), baseRelease(t)) !== 0;
            }
            return true;
        case '<':
            if (compareVersions(c, t) >= 0)
                return false;
            // <3.10 does not admit 3.10rc1, unless the specifier is itself a pre-release.
            if (!isPrerelease(t) && isPrerelease(c)) {
                return compareVersions(baseRelease(c), baseRelease(t)) !== 0;
            }
            return true;
    }
    return false;
}
/**
 * Whether a Python version satisfies a Requires-Python specifier set such as `>=3.9`,
 * `>=3.8,<4`, `~=3.10`, `!=3.11.*` or `==3.11.*`. An empty specifier admits everything.
 * Pre-releases of Python are admitted, as pip does for Requires-Python.
 */
function satisfiesRequiresPython(spec, pythonVersion) {
    const candidate = parseVersion(pythonVersion);
    const clauses = spec
        .split(',')
        .map(s => s.trim())
        .filter(s => s !== '');
    if (clauses.length === 0 && spec.trim() !== '')
        throw invalidSpecifier(spec, 'it is empty');
    return clauses.every(clause => satisfiesOne(candidate, pythonVersion, clause, spec));
}

/**
 * Checking that a release archive is safe to unpack before anything installs it: every entry
 * stays inside the archive (and, for an sdist, inside its one `<name>-<version>/` folder), no
 * link points outside, and the archive itself is complete and uncorrupted.
 */
function archiveFormat(file) {
    const base = path__default.basename(file).toLowerCase();
    if (base.endsWith('.tar.gz') || base.endsWith('.tgz'))
        return { format: 'tar.gz', kind: 'sdist' };
    if (base.endsWith('.whl'))
        return { format: 'zip', kind: 'wheel' };
    if (base.endsWith('.zip'))
        return { format: 'zip', kind: 'sdist' };
    throw new SitecycleError(`release archive ${file} is neither an sdist (.tar.gz, .zip) nor a wheel (.whl)`, 'release');
}
/** Why an entry's own path is unsafe, or undefined when it is not. */
function pathProblem(name) {
    if (name === '')
        return 'has an empty name';
    if (name.startsWith('/'))
        return 'has an absolute path';
    if (name.startsWith('\\'))
        return 'has an absolute path (backslash)';
    if (/^[A-Za-z]:/.test(name))
        return 'has a drive letter';
    if (name.split(/[\\/]/).includes('..'))
        return "has a '..' segment";
    return undefined;
}
/** Path segments without empty and `.` parts; backslashes count as separators. */
function segments(name) {
    return name.split(/[\\/]/).filter(s => s !== '' && s !== '.');
}
/** Where a symlink points, as segments from the archive root; undefined when it leaves the archive. */
function resolveSymlink(entryName, target) {
    if (target === '' || /^[\\/]/.test(target) || /^[A-Za-z]:/.test(target))
        return undefined;
    const resolved = segments(entryName).slice(0, -1);
    for (const part of segments(target)) {
        if (part === '..') {
            if (resolved.length === 0)
                return undefined;
            resolved.pop();
        }
        else {
            resolved.push(part);
        }
    }
    return resolved;
}
function sameSdistFolder(folder, expected) {
    const dash = folder.lastIndexOf('-');
    if (dash <= 0)
        return false;
    const version = folder.slice(dash + 1);
    const canonical = (n) => n.toLowerCase().replace(/[-_.]+/g, '-');
    return (canonical(folder.slice(0, dash)) === canonical(expected.name) &&
        isValidVersion(version) &&
        normalizeVersion(version) === normalizeVersion(expected.version));
}
function unsafe(file, message) {
    return new SitecycleError(`release archive ${file} is unsafe: ${message}`, 'release');
}
/**
 * Read a release archive (sdist .tar.gz or .zip, wheel .whl) in Node and refuse it, with a
 * SitecycleError naming the archive and the entry, when it is corrupt or truncated or any
 * entry has an absolute path, a drive letter or a `..` segment, is a device, lies under a
 * symlink, is a link pointing outside the archive, or (sdist) lies outside the single
 * top-level folder `<name>-<version>/` named after the file.
 */
async function checkArchive(file) {
    const { format, kind } = archiveFormat(file);
    const expected = kind === 'sdist' ? parseReleaseFileName(file) : undefined;
    let entries;
    try {
        entries = format === 'tar.gz' ? await listTarGzEntries(file) : await listZipEntries(file);
    }
    catch (err) {
        if (err instanceof ArchiveFormatError) {
            throw new SitecycleError(`release archive ${file} is corrupt or truncated: ${err.message}`, 'release');
        }
        const code = err.code;
        if (code === 'ENOENT')
            throw new SitecycleError(`release archive ${file} not found`, 'release');
        throw new SitecycleError(`cannot read release archive ${file}: ${err.message}`, 'release');
    }
    if (entries.length === 0)
        throw unsafe(file, 'it is empty');
    let topLevel;
    const symlinks = new Set();
    /** An entry (or link target) is inside the sdist's folder. */
    const insideTop = (parts) => parts.length >= 1 && parts[0] === topLevel;
    for (const entry of entries) {
        const shown = `'${entry.name}'`;
        const problem = pathProblem(entry.name);
        if (problem)
            throw unsafe(file, `entry ${shown} ${problem}`);
        if (entry.type === 'other')
            throw unsafe(file, `entry ${shown} is a ${entry.description}`);
        const parts = segments(entry.name);
        if (parts.length === 0) {
            if (entry.type === 'directory')
                continue;
            throw unsafe(file, `entry ${shown} has no file name`);
        }
        // Writing under a symlink would follow it, wherever the link's own check said it points.
        for (let i = 1; i < parts.length; i++) {
            const parent = parts.slice(0, i).join('/');
            if (symlinks.has(parent))
                throw unsafe(file, `entry ${shown} lies under the symlink '${parent}'`);
        }
        // An extractor may open the later entry through the earlier link.
        if (symlinks.has(parts.join('/')))
            throw unsafe(file, `entry ${shown} replaces a symlink of the same name`);
        if (expected) {
            topLevel ??= parts[0];
            if (parts[0] !== topLevel || (parts.length === 1 && entry.type !== 'directory')) {
                throw unsafe(file, `entry ${shown} is outside the top-level folder '${topLevel}/' (an sdist holds one folder)`);
            }
        }
        if (entry.type === 'symlink') {
            const target = entry.linkTarget ?? '';
            const resolved = resolveSymlink(entry.name, target);
            if (!resolved || (expected && !insideTop(resolved))) {
                throw unsafe(file, `symlink ${shown} points outside the ${expected ? 'sdist folder' : 'archive'} ('${target}')`);
            }
            symlinks.add(parts.join('/'));
        }
        if (entry.type === 'hardlink') {
            const target = entry.linkTarget ?? '';
            const targetProblem = pathProblem(target);
            if (targetProblem || (expected && !insideTop(segments(target)))) {
                throw unsafe(file, `hardlink ${shown} points outside the ${expected ? 'sdist folder' : 'archive'} ('${target}')`);
            }
        }
    }
    if (expected && topLevel && !sameSdistFolder(topLevel, expected)) {
        throw unsafe(file, `its top-level folder '${topLevel}/' does not match the file name (expected '${expected.name}-${expected.version}/')`);
    }
    return { file, format, kind, entries: entries.length, ...(topLevel ? { topLevel } : {}) };
}

/**
 * The release manifest: manifest.json written next to a release's files, naming the
 * distribution, its version, the commit it was built from, its Python requirement and the
 * sha256 and size of every file; plus a SHA256SUMS file that `sha256sum -c` can check.
 */
/** File name of the manifest inside a release directory. */
const MANIFEST_FILE = 'manifest.json';
/** File name of the checksum list inside a release directory. */
const SHA256SUMS_FILE = 'SHA256SUMS';
const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;
const releaseFileSchema = object({
    name: string()
        .regex(fileNamePattern, 'expected a plain file name (no directories), such as pkg-1.0.0.tar.gz'),
    kind: _enum(['sdist', 'wheel']),
    sha256: string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
    size: number().int().nonnegative()
})
    .refine(f => (f.kind === 'wheel') === f.name.endsWith('.whl'), {
    message: 'kind does not match the file name: wheels end in .whl, sdists in .tar.gz or .zip',
    path: ['kind']
})
    .refine(f => f.kind === 'wheel' || f.name.endsWith('.tar.gz') || f.name.endsWith('.zip'), {
    message: 'an sdist must end in .tar.gz or .zip',
    path: ['name']
});
const manifestSchema = object({
    name: string()
        .regex(/^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/, 'expected a Python distribution name such as sitecycle-sample'),
    version: string().refine(isValidVersion, {
        message: 'expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3'
    }),
    commit: string()
        .regex(/^[0-9a-f]{7,64}$/, 'expected a git commit sha (hex) or null')
        .nullable()
        .default(null),
    requires_python: string().nullable().default(null),
    built_at: datetime({ offset: true, message: 'expected an ISO 8601 date and time' }),
    files: array(releaseFileSchema)
        .min(1, 'a release has at least one file')
        .refine(files => new Set(files.map(f => f.name)).size === files.length, {
        message: 'a file is listed twice'
    })
});
function describeIssues(error) {
    return error.issues
        .map(issue => {
        const where = issue.path.reduce((acc, p) => typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p), '');
        return `${where || '(top level)'}: ${issue.message}`;
    })
        .join('; ');
}
/** Validate a manifest value; throws SitecycleError naming `source` and every problem. */
function validateManifest(value, source) {
    const result = manifestSchema.safeParse(value);
    if (!result.success) {
        throw new SitecycleError(`manifest ${source} is invalid: ${describeIssues(result.error)}`, 'release');
    }
    return result.data;
}
/** Read and validate a manifest.json; errors name the file and what is wrong. */
async function readManifest(manifestPath) {
    let text;
    try {
        text = await fs.readFile(manifestPath, 'utf8');
    }
    catch (err) {
        const code = err.code;
        throw new SitecycleError(code === 'ENOENT'
            ? `manifest ${manifestPath} not found: a release directory holds its files and a manifest.json`
            : `cannot read manifest ${manifestPath}: ${err.message}`, 'release');
    }
    let value;
    try {
        value = JSON.parse(text);
    }
    catch (err) {
        throw new SitecycleError(`manifest ${manifestPath} is not valid JSON: ${err.message}`, 'release');
    }
    return validateManifest(value, manifestPath);
}
/** The SHA256SUMS text for a manifest: `<hex>  <name>` lines, as sha256sum prints them. */
function formatSha256Sums(manifest) {
    return manifest.files.map(f => `${f.sha256}  ${f.name}\n`).join('');
}
/** Parse SHA256SUMS text into name → sha256; lines that are not `<hex>  <name>` are errors. */
function parseSha256Sums(text, source = SHA256SUMS_FILE) {
    const sums = new Map();
    text.split('\n').forEach((line, i) => {
        if (line.trim() === '')
            return;
        const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
        if (!m) {
            throw new SitecycleError(`${source} line ${i + 1} is not '<sha256>  <file name>': ${line}`, 'release');
        }
        sums.set(m[2], m[1].toLowerCase());
    });
    return sums;
}
async function writeFileAtomic(file, content) {
    const aside = `${file}.tmp-${process.pid}-${Date.now()}`;
    await fs.writeFile(aside, content, { mode: 0o644 });
    await fs.rename(aside, file);
}
/**
 * Write manifest.json and SHA256SUMS into `dir` (each written aside, then renamed).
 * The manifest is validated first. Returns the manifest's path.
 */
async function writeManifest(dir, manifest) {
    const valid = validateManifest(manifest, path__default.join(dir, MANIFEST_FILE));
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(path__default.join(dir, SHA256SUMS_FILE), formatSha256Sums(valid));
    const manifestPath = path__default.join(dir, MANIFEST_FILE);
    await writeFileAtomic(manifestPath, `${JSON.stringify(valid, null, 2)}\n`);
    return manifestPath;
}
/** The sha256 (lower-case hex) and size of a file, read as a stream. */
async function digestFile(file) {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(file)) {
        hash.update(chunk);
        size += chunk.length;
    }
    return { sha256: hash.digest('hex'), size };
}

/**
 * Finding the release to deploy and proving it is the one that was built: its manifest is
 * valid, names the expected package and a version matching the file and directory names,
 * the file's sha256 and size match, and the archive is safe to unpack.
 */
function releaseError(message) {
    return new SitecycleError(message, 'release');
}
async function statOrUndefined(p) {
    try {
        return await fs.stat(p);
    }
    catch (err) {
        if (err.code === 'ENOENT')
            return undefined;
        throw err;
    }
}
/** The version directories (`<dir>/<version>/manifest.json`) of a releases directory. */
async function listReleaseVersions(dir) {
    const names = await fs.readdir(dir, { withFileTypes: true });
    const versions = [];
    for (const entry of names) {
        // Hidden names are releases still being written (see buildRelease).
        if (!entry.isDirectory() || entry.name.startsWith('.') || !isValidVersion(entry.name))
            continue;
        if (await statOrUndefined(path__default.join(dir, entry.name, MANIFEST_FILE)))
            versions.push(entry.name);
    }
    return versions.sort(compareVersions);
}
/** Choose the manifest to read and, when the path named a file, that file. */
async function locate(opts) {
    const target = path__default.resolve(opts.path);
    const stat = await statOrUndefined(target);
    if (!stat)
        throw releaseError(`release path ${target} does not exist`);
    if (stat.isFile())
        return { manifestPath: path__default.join(path__default.dirname(target), MANIFEST_FILE), file: target };
    if (!stat.isDirectory())
        throw releaseError(`release path ${target} is neither a file nor a directory`);
    const direct = path__default.join(target, MANIFEST_FILE);
    if (await statOrUndefined(direct))
        return { manifestPath: direct };
    const versions = await listReleaseVersions(target);
    if (versions.length === 0) {
        throw releaseError(`no release found in ${target}: expected ${MANIFEST_FILE} there or <version>/${MANIFEST_FILE} below it`);
    }
    let chosen;
    if (opts.version !== undefined) {
        const wanted = normalizeVersion(opts.version);
        chosen = versions.find(v => compareVersions(v, wanted) === 0);
        if (!chosen) {
            throw releaseError(`release ${opts.version} not found in ${target}: it holds ${versions.join(', ')}`);
        }
    }
    else {
        chosen = versions[versions.length - 1];
    }
    return { manifestPath: path__default.join(target, chosen, MANIFEST_FILE), versionDir: chosen };
}
function pickFile(manifest, manifestPath, file) {
    if (file) {
        const listed = manifest.files.find(f => f.name === path__default.basename(file));
        if (!listed)
            throw releaseError(`release file ${file} is not listed in its manifest ${manifestPath}`);
        return listed;
    }
    // A wheel installs without building; the sdist is the fallback.
    const picked = manifest.files.find(f => f.kind === 'wheel') ?? manifest.files.find(f => f.kind === 'sdist');
    if (!picked)
        throw releaseError(`manifest ${manifestPath} lists no sdist or wheel`);
    return picked;
}
function checkNames(manifest, manifestPath, listed, opts, versionDir) {
    const version = manifest.version;
    if (opts.version !== undefined && compareVersions(opts.version, version) !== 0) {
        throw releaseError(`manifest ${manifestPath} is for version ${manifest.version}, not ${opts.version}`);
    }
    if (versionDir !== undefined && compareVersions(versionDir, version) !== 0) {
        throw releaseError(`manifest ${manifestPath} says version ${manifest.version} but its directory is named ${versionDir}`);
    }
    if (opts.packageName !== undefined &&
        normalizeProjectName(opts.packageName) !== normalizeProjectName(manifest.name)) {
        throw releaseError(`release in ${manifestPath} is ${manifest.name}, not the expected package ${opts.packageName}`);
    }
    const fromName = parseReleaseFileName(listed.name);
    if (compareVersions(fromName.version, version) !== 0) {
        throw releaseError(`manifest ${manifestPath} says version ${manifest.version} but its file ${listed.name} is version ${fromName.version}`);
    }
    if (normalizeProjectName(fromName.name) !== normalizeProjectName(manifest.name)) {
        throw releaseError(`manifest ${manifestPath} is for ${manifest.name} but lists the file ${listed.name}`);
    }
}
async function checkSha256Sums(dir, listed) {
    const sumsPath = path__default.join(dir, SHA256SUMS_FILE);
    let text;
    try {
        text = await fs.readFile(sumsPath, 'utf8');
    }
    catch (err) {
        if (err.code === 'ENOENT')
            return;
        throw err;
    }
    const sum = parseSha256Sums(text, sumsPath).get(listed.name);
    if (sum !== undefined && sum !== listed.sha256) {
        throw releaseError(`${sumsPath} gives ${listed.name} the sha256 ${sum}, but the manifest says ${listed.sha256}`);
    }
}
/**
 * Find a release and check it: the manifest is valid; its version is PEP 440 and matches the
 * file's name (and the version directory's); its name matches `packageName`; the file's
 * sha256 and size match the manifest; the archive is safe. Prefers the wheel, else the sdist.
 * Throws SitecycleError naming what is wrong and where.
 */
async function resolveRelease(opts) {
    const { manifestPath, file, versionDir } = await locate(opts);
    const manifest = await readManifest(manifestPath);
    const listed = pickFile(manifest, manifestPath, file);
    checkNames(manifest, manifestPath, listed, opts, versionDir);
    const dir = path__default.dirname(manifestPath);
    const filePath = path__default.join(dir, listed.name);
    let digest;
    try {
        digest = await digestFile(filePath);
    }
    catch (err) {
        if (err.code === 'ENOENT') {
            throw releaseError(`release file ${filePath} is listed in ${manifestPath} but missing`);
        }
        throw err;
    }
    if (digest.sha256 !== listed.sha256) {
        throw releaseError(`release file ${filePath} does not match its manifest: sha256 is ${digest.sha256}, manifest says ${listed.sha256}`);
    }
    if (digest.size !== listed.size) {
        throw releaseError(`release file ${filePath} does not match its manifest: size is ${digest.size} bytes, manifest says ${listed.size}`);
    }
    await checkSha256Sums(dir, listed);
    await checkArchive(filePath);
    return {
        name: manifest.name,
        version: manifest.version,
        file: filePath,
        kind: listed.kind,
        sha256: digest.sha256,
        size: digest.size,
        manifest,
        manifestPath,
        requiresPython: manifest.requires_python
    };
}

function real(release) {
    return release && release !== EMPTY_RELEASE ? release : null;
}
/** Read slots and live.map (single mode: the current link stands for the live slot). */
async function readSiteState(exec, site, python) {
    const r = await exec.run(hostScript(python, READ_STATE, [site.root]));
    const raw = JSON.parse(r.stdout);
    if (site.apache.mode === 'single') {
        return {
            initialized: raw.initialized,
            slots: { blue: raw.current, green: null },
            liveSlot: 'blue',
            idleSlot: 'green',
            live: real(raw.current),
            idle: null
        };
    }
    const liveSlot = raw.live === 'green' ? 'green' : 'blue';
    const idleSlot = otherSlot(liveSlot);
    return {
        initialized: raw.initialized,
        slots: raw.slots,
        liveSlot,
        idleSlot,
        live: real(raw.slots[liveSlot]),
        idle: real(raw.slots[idleSlot])
    };
}
/** Fail with the command to run when the site was never initialized. */
function requireInitialized(state, site, exec) {
    if (!state.initialized)
        throw new SitecycleError(`site ${site.name} is not initialized at ${site.root} on ${exec.name}: run \`sitecycle init ${site.name}\` first`, 'site');
}
/** The installed releases under releases/, with their records. */
async function listReleases(exec, site, python) {
    const r = await exec.run(hostScript(python, LIST_RELEASES, [siteLayout(site.root).releases]));
    const raw = JSON.parse(r.stdout);
    return Object.entries(raw)
        .filter(([dir]) => dir !== EMPTY_RELEASE && !dir.startsWith('.'))
        .map(([dir, v]) => ({ dir, complete: v.complete, bad: v.bad, info: v.info ?? undefined }));
}
/** Point a slot at a release directory (atomic link swap). */
async function pointSlot(exec, site, python, slot, release) {
    const l = siteLayout(site.root);
    const link = site.apache.mode === 'single' ? l.current : l.slot(slot);
    const target = site.apache.mode === 'single' ? `releases/${release}` : `../releases/${release}`;
    await exec.run(hostScript(python, POINT_LINK, [link, target]));
}
/** Restart a slot's daemon group: SIGINT to its processes, wait for new PIDs (a touch of the
 * script is not enough after a failed import). Returns the new PIDs. */
async function restartSlotGroup(exec, site, python, slot) {
    const l = siteLayout(site.root);
    const runDir = slot === 'current' ? `${site.root}/run/current` : l.slotRunDir(slot);
    const timeout = String(Math.max(30, site.apache.shutdownTimeout + 15));
    const r = await exec.tryRun(hostScript(python, RESTART_GROUP, [runDir, String(site.apache.processes), timeout]));
    if (r.code === 3)
        throw new SitecycleError(`no Apache daemon process of site ${site.name} slot ${slot} runs on ${exec.name}: is Apache running with the vhost sitecycle init wrote? (${r.stderr.trim()})`, 'host');
    if (r.code !== 0)
        throw new SitecycleError(`restarting slot ${slot} of site ${site.name} failed: ${r.stderr.trim()}`, 'host');
    return r.stdout.trim();
}
/** Rename live.map over with the given slot. Returns the slot that was live. */
async function switchLiveSlot(exec, site, python, slot) {
    const r = await exec.run(hostScript(python, SWITCH_MAP, [siteLayout(site.root).liveMap, slot]));
    return r.stdout.trim();
}
/** The URL the host itself uses to reach the vhost (loopback, the vhost's port). */
function loopbackUrl(site, path) {
    const m = /:(\d+)$/.exec(site.apache.listen);
    const port = m ? m[1] : '80';
    return `http://127.0.0.1:${port}${path}`;
}
/**
 * GET the health path from the host, one request at a time, until it answers 200 with the
 * expected version `successes` times in a row, or the site's health timeout passes. `slot`
 * uses the private route to that slot; undefined asks as a user would.
 */
async function probeHealth(exec, site, python, opts) {
    const r = await exec.tryRun(hostScript(python, PROBE_HTTP, [
        loopbackUrl(site, site.health.path),
        site.apache.serverName,
        opts.slot ?? '',
        site.health.expectVersion ? (opts.version ?? '') : '',
        String(opts.timeout ?? site.health.timeout),
        String(opts.successes ?? 3)
    ]));
    let last = {
        status: null,
        body: '',
        error: r.stderr.trim()
    };
    try {
        last = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
    }
    catch {
        // keep the stderr as the error
    }
    return { ok: r.code === 0, ...last };
}
/** One sentence on a failed probe. */
function describeProbe(p, what, version) {
    if (p.error)
        return `${what} did not answer: ${p.error}`;
    const body = p.body.trim().slice(0, 200).replace(/\s+/g, ' ');
    if (p.status !== 200)
        return `${what} answered HTTP ${p.status}${body ? `: ${body}` : ''}`;
    return `${what} answered 200 but not version ${version} (body: ${body})`;
}

const PLACEHOLDER = /\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
/**
 * Render a template: `{{ secret.NAME }}` and `{{ env.NAME }}` from the environment (a missing
 * one is an error naming it and the template line), `{{ site.name|root|url }}` and
 * `{{ release.version|dir }}` from the deploy. Anything else in braces is an error too.
 */
function renderConfigText(template, file, values, env = process.env) {
    const secrets = [];
    const secretNames = [];
    const problems = [];
    const lines = template.split('\n');
    const out = lines.map((line, i) => {
        const where = `${file}:${i + 1}`;
        const stray = line.replace(PLACEHOLDER, '');
        if (/\{\{.*\}\}/.test(stray))
            problems.push(`${where}: placeholder ${/\{\{.*?\}\}/.exec(stray)?.[0]} is not understood; expected {{ secret.NAME }}, {{ env.NAME }}, {{ site.name|root|url }} or {{ release.version|dir }}`);
        return line.replace(PLACEHOLDER, (whole, scope, key) => {
            if (scope === 'secret' || scope === 'env') {
                const v = env[key];
                if (v === undefined || v === '') {
                    problems.push(`${where}: ${scope === 'secret' ? 'secret' : 'environment variable'} ${key} is not set; ` +
                        `set it in the environment of the deploy (in a workflow: env: ${key}: \${{ secrets.${key} }})`);
                    return whole;
                }
                if (scope === 'secret') {
                    secrets.push(v);
                    if (!secretNames.includes(key))
                        secretNames.push(key);
                }
                return v;
            }
            const table = {
                site: values.site,
                release: values.release
            };
            const v = table[scope]?.[key];
            if (v === undefined) {
                problems.push(`${where}: unknown placeholder {{ ${scope}.${key} }}`);
                return whole;
            }
            return v;
        });
    });
    if (problems.length)
        throw new SitecycleError(problems.join('\n'), 'config');
    return { text: out.join('\n'), secrets, secretNames };
}
/** Read the template file and render it. */
async function renderConfigFile(file, values, env = process.env) {
    let template;
    try {
        template = await readFile(file, 'utf8');
    }
    catch (e) {
        throw new SitecycleError(`cannot read the config template ${file}: ${e.message}`, 'config');
    }
    return renderConfigText(template, file, values, env);
}
/** Split a hook command line into argv: whitespace separates, single and double quotes group,
 * backslash escapes. No shell: no variables, globs, pipes or redirections. */
function splitCommandLine(line, where) {
    const out = [];
    let cur = '';
    let has = false;
    let quote = null;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quote) {
            if (c === quote)
                quote = null;
            else if (c === '\\' && quote === '"' && i + 1 < line.length)
                cur += line[++i];
            else
                cur += c;
            continue;
        }
        if (c === "'" || c === '"') {
            quote = c;
            has = true;
        }
        else if (c === '\\' && i + 1 < line.length) {
            cur += line[++i];
            has = true;
        }
        else if (/\s/.test(c)) {
            if (has)
                out.push(cur);
            cur = '';
            has = false;
        }
        else if ('|&;<>$`'.includes(c)) {
            throw new SitecycleError(`${where}: hook "${line}" uses the shell character ${c}; hooks run without a shell: put shell logic in a script of your package`, 'config');
        }
        else {
            cur += c;
            has = true;
        }
    }
    if (quote)
        throw new SitecycleError(`${where}: hook "${line}" has an unclosed ${quote}`, 'config');
    if (has)
        out.push(cur);
    if (!out.length)
        throw new SitecycleError(`${where}: empty hook command`, 'config');
    return out;
}

/** Appends to and reads the site's journal on its host. */
class Journal {
    exec;
    path;
    constructor(exec, path) {
        this.exec = exec;
        this.path = path;
    }
    /** Append one event (a whole line, O_APPEND). */
    async append(event) {
        const line = JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n';
        await this.exec.run(appendFile(this.path, line));
    }
    /** Every event, oldest first; a torn last line (a run killed mid-write) is skipped. */
    async events() {
        const text = (await this.exec.readFile(this.path)) ?? '';
        const out = [];
        for (const line of text.split('\n')) {
            if (!line.trim())
                continue;
            try {
                out.push(JSON.parse(line));
            }
            catch {
                // a line cut short by a kill: ignore it
            }
        }
        return out;
    }
    /** Events grouped by operation, oldest first. */
    async operations() {
        const ops = new Map();
        for (const e of await this.events()) {
            let op = ops.get(e.id);
            if (!op) {
                if (e.event !== 'start') {
                    if (e.event === 'recovered' || e.event === 'mark-bad')
                        continue;
                    continue;
                }
                op = { id: e.id, op: e.op, start: e, steps: [] };
                ops.set(e.id, op);
                continue;
            }
            if (e.event === 'step')
                op.steps.push(e);
            else if (e.event === 'end' || e.event === 'recovered')
                op.end = e;
        }
        return [...ops.values()];
    }
}
/** A short unique id for an operation. */
function newOperationId() {
    const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    return `${t}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Whether the holder is known to be gone: only knowable from the machine it ran on. */
function holderState(h) {
    if (h.machine !== hostname())
        return 'unknown';
    try {
        process.kill(h.pid, 0);
        return 'alive';
    }
    catch (e) {
        return e.code === 'EPERM' ? 'alive' : 'dead';
    }
}
function describeHolder(h) {
    const run = h.run ? `, run ${h.run}` : '';
    return `${h.op} ${h.id} by ${h.actor} (pid ${h.pid} on ${h.machine}${run}) since ${h.since}`;
}
function currentHolder(op, id) {
    const run = process.env.GITHUB_RUN_ID
        ? `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY ?? ''}/actions/runs/${process.env.GITHUB_RUN_ID}`
        : undefined;
    return {
        op,
        id,
        pid: process.pid,
        machine: hostname(),
        actor: process.env.GITHUB_ACTOR ?? process.env.SUDO_USER ?? process.env.USER ?? 'unknown',
        run,
        since: new Date().toISOString()
    };
}
async function readHolder(exec, root) {
    const text = await exec.readFile(siteLayout(root).lockHolder);
    if (text === undefined) {
        const exists = await exec.tryRun({ argv: ['test', '-d', siteLayout(root).lock] });
        if (exists.code === 0)
            return {
                op: 'unknown',
                id: 'unknown',
                pid: 0,
                machine: 'unknown',
                actor: 'unknown',
                since: 'unknown'
            };
        return undefined;
    }
    try {
        return JSON.parse(text);
    }
    catch {
        return {
            op: 'unknown',
            id: 'unknown',
            pid: 0,
            machine: 'unknown',
            actor: 'unknown',
            since: 'unknown'
        };
    }
}
/**
 * Take the site lock: `mkdir .sitecycle/lock` (atomic), then write who holds it. A lock whose
 * holder is known dead (same machine, process gone) is taken over and reported as stale.
 */
async function acquireLock(exec, root, holder, options = {}) {
    const l = siteLayout(root);
    const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
    let waiting = false;
    for (;;) {
        const r = await tryTakeLock(exec, root, holder);
        if (r.taken)
            return { holder };
        const held = await readHolder(exec, root);
        if (!held) {
            if (r.missingState) {
                throw new SitecycleError(`site root ${root} on ${exec.name} is not initialized (no ${l.state}): run \`sitecycle init\` first`, 'site');
            }
            continue;
        }
        if (held.pid && holderState(held) === 'dead') {
            options.reporter?.warn(`taking over the lock of a run that is gone: ${describeHolder(held)}`);
            await exec.run(removeTree(l.lock));
            if ((await tryTakeLock(exec, root, holder)).taken)
                return { holder, stale: held };
            continue;
        }
        if (Date.now() >= deadline) {
            throw new SitecycleError(`site ${root} on ${exec.name} is locked by ${describeHolder(held)}; ` +
                `wait for it (--lock-wait SECONDS), or if that run is gone, clear it with \`sitecycle unlock\``, 'lock');
        }
        if (!waiting) {
            options.reporter?.info(`waiting for the lock held by ${describeHolder(held)}`);
            waiting = true;
        }
        await new Promise(r => setTimeout(r, 500));
    }
}
/**
 * One attempt: a private directory holding holder.json, renamed to `lock` (rename(2) of a
 * directory fails when the target is a non-empty directory), so the lock never exists without
 * its holder.
 */
async function tryTakeLock(exec, root, holder) {
    const l = siteLayout(root);
    const tmp = `${l.state}/lock.${holder.id}`;
    const made = await exec.tryRun(makeDirExclusive(tmp));
    if (made.code !== 0)
        return { taken: false, missingState: /No such file/.test(made.stderr) };
    await exec.writeFile(`${tmp}/holder.json`, JSON.stringify(holder, null, 2) + '\n', 0o644);
    const moved = await exec.tryRun({ argv: ['mv', '-T', tmp, l.lock] });
    if (moved.code === 0)
        return { taken: true, missingState: false };
    await exec.run(removeTree(tmp));
    return { taken: false, missingState: false };
}
/** Release the lock, but only if this holder still has it. */
async function releaseLock(exec, root, holder) {
    const held = await readHolder(exec, root);
    if (held && held.id === holder.id)
        await exec.run(removeTree(siteLayout(root).lock));
}

/**
 * Finish what an interrupted run left (killed, machine lost): its journal entry has a start
 * and no end. Users were never routed to anything unverified (the switch comes after the
 * verification), so the live slot is the truth. What can be left over: half-installed release
 * directories, upload leftovers, and an idle slot pointing at the release the run was about to
 * verify instead of the one kept warm for a rollback. Each is put back; the journal gets a
 * `recovered` event for the run.
 */
async function recoverInterrupted(ctx) {
    const { exec, site, journal, python, reporter } = ctx;
    const ops = await journal.operations();
    const open = ops.filter(o => !o.end);
    if (!open.length)
        return [];
    const notes = [];
    const state = await readSiteState(exec, site, python);
    const inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean));
    for (const op of open) {
        reporter.warn(`an earlier ${op.op} (${op.id}, started ${op.start.at}) did not finish: recovering`);
        const before = op.start;
        if (site.apache.mode === 'blue-green' && before.liveSlot) {
            const idleBefore = before.idle ?? null;
            if (state.liveSlot === before.liveSlot && state.idle !== idleBefore) {
                // The run had started its release in the idle slot but never switched: keep the
                // release that was warm for a rollback there again.
                const target = idleBefore ?? '_empty';
                const releases = await listReleases(exec, site, python);
                if (idleBefore === null || releases.some(r => r.dir === idleBefore && r.complete)) {
                    await pointSlot(exec, site, python, state.idleSlot, target);
                    await restartSlotGroup(exec, site, python, state.idleSlot).catch(e => reporter.warn(`could not restart the idle slot: ${e instanceof Error ? e.message : e}`));
                    inSlots.delete(state.idle ?? '');
                    if (idleBefore)
                        inSlots.add(idleBefore);
                    notes.push(`idle slot ${state.idleSlot} points at ${idleBefore ?? 'no release'} again`);
                }
            }
            else if (state.liveSlot !== before.liveSlot) {
                notes.push(`the interrupted run had switched: ${state.live} is live (it was verified before the switch)`);
            }
        }
        await journal.append({
            id: op.id,
            op: op.op,
            event: 'recovered',
            by: ctx.opId,
            notes: [...notes]
        });
    }
    // Half-installed releases (no release.json) that no slot uses, and upload leftovers.
    const releases = await listReleases(exec, site, python);
    const l = siteLayout(site.root);
    const partial = releases
        .filter(r => !r.complete && !inSlots.has(r.dir))
        .map(r => l.release(r.dir));
    if (partial.length) {
        await exec.run(removeTree(...partial));
        notes.push(`removed half-installed ${partial.map(p => p.split('/').pop()).join(', ')}`);
    }
    await exec.run(removeTree(l.incoming));
    for (const n of notes)
        reporter.info(`recovered: ${n}`);
    return notes;
}

/** An operation that failed after touching the host: its outcome says what was undone. */
class OperationFailed extends SitecycleError {
    outcome;
    constructor(outcome) {
        super(`${outcome.op} of ${outcome.targetVersion ?? 'the release'} to site ${outcome.site} failed at step '${outcome.failedStep}': ${outcome.error}` +
            (outcome.rolledBack
                ? `; rolled back: ${outcome.version ?? 'nothing'} serves again`
                : outcome.undoComplete
                    ? ''
                    : '; some undo steps failed: check `sitecycle status`'), 'operation');
        this.outcome = outcome;
        this.name = 'OperationFailed';
    }
}
/**
 * Run `body` holding the site lock, with the operation's start and end in the journal, after
 * recovering whatever an interrupted earlier run left. The lock is released in every case.
 */
async function withSiteOperation(options, start, body) {
    const { config, site, exec, reporter } = options;
    const opId = newOperationId();
    const holder = currentHolder(options.op, opId);
    const journal = new Journal(exec, siteLayout(site.root).journal);
    const python = config.app.python;
    await acquireLock(exec, site.root, holder, { waitSeconds: options.lockWait ?? 0, reporter });
    const ctx = { config, site, exec, reporter, journal, opId, python, holder };
    let endWritten = false;
    try {
        await recoverInterrupted(ctx);
        await journal.append({
            id: opId,
            op: options.op,
            event: 'start',
            site: site.name,
            actor: holder.actor,
            run: holder.run,
            ...start
        });
        const result = await body(ctx);
        await journal.append({
            id: opId,
            op: options.op,
            event: 'end',
            status: result.status,
            ...(result.journal ?? {})
        });
        endWritten = true;
        return result;
    }
    catch (e) {
        if (!endWritten) {
            const fields = e instanceof OperationFailed
                ? {
                    status: e.outcome.status,
                    failedStep: e.outcome.failedStep,
                    error: e.outcome.error,
                    live: e.outcome.version,
                    rolledBack: e.outcome.rolledBack
                }
                : { status: 'failed', error: e instanceof Error ? e.message : String(e) };
            await journal.append({ id: opId, op: options.op, event: 'end', ...fields }).catch(() => { });
        }
        throw e;
    }
    finally {
        await releaseLock(exec, site.root, holder).catch(err => reporter.warn(`could not release the lock: ${err}`));
    }
}

/** A pipeline that failed: its steps' reports, whether its undos all ran, and the cause. */
class PipelineError extends Error {
    failedStep;
    cause;
    reports;
    undoComplete;
    constructor(failedStep, cause, reports, undoComplete) {
        super(`step '${failedStep}' failed: ${cause instanceof Error ? cause.message : String(cause)}`);
        this.failedStep = failedStep;
        this.cause = cause;
        this.reports = reports;
        this.undoComplete = undoComplete;
        this.name = 'PipelineError';
    }
}
/** Test hooks, off unless set: SIGKILL this process after a named step, or fail a named step. */
function faultAfter(step) {
    if (process.env.SITECYCLE_FAULT_KILL_AFTER === step)
        process.kill(process.pid, 'SIGKILL');
}
function faultAt(step) {
    if (process.env.SITECYCLE_FAULT_FAIL_AT === step)
        throw new Error(`injected failure at step ${step} (SITECYCLE_FAULT_FAIL_AT)`);
}
function message(e) {
    return e instanceof Error ? e.message : String(e);
}
/** Run the steps in order; on failure undo the completed ones in reverse and throw PipelineError. */
async function runPipeline(steps, ctx, reporter, events = {}) {
    const reports = steps.map(s => ({
        name: s.name,
        title: s.title,
        status: 'not-run',
        ms: 0
    }));
    const done = [];
    for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const started = Date.now();
        if (step.when && !step.when(ctx)) {
            reports[i] = { ...reports[i], status: 'skipped' };
            continue;
        }
        reporter.stepStart(step.name, step.title);
        try {
            faultAt(step.name);
            const note = await step.run(ctx);
            reports[i] = {
                ...reports[i],
                status: 'ok',
                ms: Date.now() - started,
                note: note || undefined
            };
            reporter.stepEnd(step.name, 'ok', reports[i].ms, reports[i].note);
            await events.onEvent?.({
                step: step.name,
                phase: 'run',
                status: 'ok',
                ms: reports[i].ms,
                note: reports[i].note
            });
            done.push(i);
            faultAfter(step.name);
        }
        catch (e) {
            const ms = Date.now() - started;
            if (step.critical === false) {
                reports[i] = { ...reports[i], status: 'warning', ms, error: message(e) };
                reporter.stepEnd(step.name, 'warning', ms, message(e));
                await events.onEvent?.({
                    step: step.name,
                    phase: 'run',
                    status: 'warning',
                    ms,
                    error: message(e)
                });
                continue;
            }
            reports[i] = { ...reports[i], status: 'failed', ms, error: message(e) };
            reporter.stepEnd(step.name, 'failed', ms, message(e));
            await events
                .onEvent?.({ step: step.name, phase: 'run', status: 'failed', ms, error: message(e) })
                .catch(() => { });
            let undoComplete = true;
            for (const j of [...done].reverse()) {
                const s = steps[j];
                if (!s.undo)
                    continue;
                const t = Date.now();
                reporter.info(`undo ${s.name}: ${s.title}`);
                try {
                    await s.undo(ctx);
                    reports[j] = { ...reports[j], status: 'undone' };
                    await events
                        .onEvent?.({ step: s.name, phase: 'undo', status: 'undone', ms: Date.now() - t })
                        .catch(() => { });
                }
                catch (ue) {
                    undoComplete = false;
                    reports[j] = { ...reports[j], status: 'undo-failed', error: message(ue) };
                    reporter.warn(`undo of '${s.name}' failed: ${message(ue)}`);
                    await events
                        .onEvent?.({
                        step: s.name,
                        phase: 'undo',
                        status: 'undo-failed',
                        ms: Date.now() - t,
                        error: message(ue)
                    })
                        .catch(() => { });
                }
            }
            throw new PipelineError(step.name, e, reports, undoComplete);
        }
    }
    return reports;
}
/** The plan of a pipeline, for --dry-run: one line per step. */
function describePlan(steps) {
    return steps.map((s, i) => `${String(i + 1).padStart(2)}. ${s.name}: ${s.title}${s.undo ? ' (undo: yes)' : ''}`);
}

/** Which release directories to remove: beyond the newest `keep` (by install time), never one
 * a slot points at (the live one and the one before it, kept warm for a rollback). Pure. */
function choosePrunable(releases, keep, inSlots) {
    const complete = releases
        .filter(r => r.complete)
        .sort((a, b) => (b.info?.installedAt ?? '').localeCompare(a.info?.installedAt ?? ''));
    const kept = new Set(inSlots);
    for (const r of complete) {
        if (kept.size >= Math.max(keep, inSlots.size))
            break;
        kept.add(r.dir);
    }
    return complete.filter(r => !kept.has(r.dir)).map(r => r.dir);
}
/** Remove the releases choosePrunable names; returns their names. */
async function pruneReleases(exec, site, python) {
    const state = await readSiteState(exec, site, python);
    const releases = await listReleases(exec, site, python);
    const inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean));
    const remove = choosePrunable(releases, site.keepReleases, inSlots);
    if (remove.length)
        await exec.run(removeTree(...remove.map(d => siteLayout(site.root).release(d))));
    return remove;
}

/**
 * The deploy pipeline: a release file (checked against its manifest) installed into a fresh
 * virtualenv beside the live one, configured, started in the idle slot, verified there before
 * any user reaches it, switched in with one rename, verified again as users see it, and undone
 * in reverse on any failure so the previous release serves again.
 */
/** Check the release (manifest, checksum, archive paths, version, package) and render the
 * config in memory (every secret present). Touches no host. */
async function prepareDeploy(req) {
    const path = req.release ?? req.site.releases;
    if (!path)
        throw new SitecycleError(`no release given for site ${req.site.name}: pass a release file or directory (--release PATH), or set sites.${req.site.name}.releases in ${req.config.file}`, 'input');
    const release = await resolveRelease({
        path,
        version: req.version,
        packageName: req.config.app.package
    });
    await checkArchive(release.file);
    let rendered;
    if (req.site.config) {
        rendered = await renderConfigFile(req.site.config.template, {
            site: { name: req.site.name, root: req.site.root, url: req.site.url },
            release: {
                version: release.version,
                dir: siteLayout(req.site.root).release(release.version)
            }
        }, req.env ?? process.env);
        for (const s of rendered.secrets)
            req.reporter.addSecret(s);
    }
    return { release, rendered };
}
/** The steps of a deploy, in order. */
function deploySteps() {
    return [
        {
            name: 'preflight',
            title: 'check the host: site initialized, Python version, pip, free space, apachectl configtest',
            run: preflight
        },
        {
            name: 'upload',
            title: 'copy the release file to the host',
            run: async (c) => {
                const dir = `${siteLayout(c.site.root).incoming}/${c.opId}`;
                await c.exec.run(makeDirs([dir], '700'));
                await c.exec.put(c.release.file, c.upload, 0o644);
                return `${basename(c.release.file)} (${c.release.size} bytes)`;
            },
            undo: async (c) => {
                await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`));
            }
        },
        {
            name: 'install',
            title: 'install the release into a fresh virtualenv under releases/ (pip, offline)',
            run: install,
            undo: async (c) => {
                if (c.createdRelease)
                    await c.exec.run(removeTree(siteLayout(c.site.root).release(c.release.version)));
            }
        },
        {
            name: 'render-config',
            title: 'write the rendered config file into the release',
            when: c => c.rendered !== undefined,
            run: async (c) => {
                const path = `${siteLayout(c.site.root).release(c.release.version)}/app.ini`;
                await c.exec.writeFile(path, c.rendered.text, 0o640);
                await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, path] });
                const names = c.rendered.secretNames;
                return `app.ini${names.length ? ` with secrets ${names.join(', ')}` : ''}`;
            }
        },
        {
            name: 'hooks',
            title: "run the site's after_install hooks in the new virtualenv",
            when: c => c.site.hooks.afterInstall.length > 0,
            run: runHooks
        },
        {
            name: 'start-idle',
            title: 'point the idle slot at the new release and restart its daemon group',
            when: c => c.site.apache.mode === 'blue-green',
            run: async (c) => {
                c.idleBefore = c.state.idle;
                await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.release.version);
                const pids = await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot);
                return `slot ${c.state.idleSlot}, pids ${pids}`;
            },
            undo: async (c) => {
                await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE);
                await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot);
            }
        },
        {
            name: 'verify-idle',
            title: 'verify the new release over HTTP through the private route, before any user reaches it',
            when: c => c.site.apache.mode === 'blue-green',
            run: async (c) => {
                const p = await probeHealth(c.exec, c.site, c.python, {
                    slot: c.state.idleSlot,
                    version: c.release.version
                });
                if (!p.ok)
                    throw new SitecycleError(describeProbe(p, `the new release ${c.release.version} on slot ${c.state.idleSlot} (${c.site.health.path})`, c.release.version), 'verify');
                return `HTTP ${p.status}`;
            }
        },
        {
            name: 'switch',
            title: 'route users to the new release (one atomic rename of live.map)',
            run: async (c) => {
                if (c.site.apache.mode === 'single') {
                    await pointSlot(c.exec, c.site, c.python, 'blue', c.release.version);
                    await restartSlotGroup(c.exec, c.site, c.python, 'current');
                }
                else {
                    await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot);
                }
                c.switched = true;
                return c.site.apache.mode === 'single'
                    ? 'current link'
                    : `live slot ${c.state.liveSlot} -> ${c.state.idleSlot}`;
            },
            undo: async (c) => {
                if (c.site.apache.mode === 'single') {
                    await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE);
                    await restartSlotGroup(c.exec, c.site, c.python, 'current');
                }
                else {
                    await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot);
                }
                c.switched = false;
            }
        },
        {
            name: 'verify-live',
            title: 'verify the site as users see it',
            run: async (c) => {
                const p = await probeHealth(c.exec, c.site, c.python, { version: c.release.version });
                if (!p.ok)
                    throw new SitecycleError(describeProbe(p, `site ${c.site.name} (${c.site.health.path}) after the switch`, c.release.version), 'verify');
                return `HTTP ${p.status}`;
            }
        },
        {
            name: 'prune',
            title: 'remove old releases beyond keep_releases (never the live one or the one before it)',
            critical: false,
            run: async (c) => {
                const removed = await pruneReleases(c.exec, c.site, c.python);
                await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`));
                return removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove';
            }
        }
    ];
}
async function preflight(c) {
    requireInitialized(c.state, c.site, c.exec);
    const python = await c.exec.tryRun(pythonVersion(c.python));
    if (python.code !== 0)
        throw new SitecycleError(`${c.python} does not run on ${c.exec.name}: ${python.stderr.trim()}; install Debian's python3`, 'preflight');
    const version = python.stdout.trim();
    if (c.release.requiresPython && !satisfiesRequiresPython(c.release.requiresPython, version))
        throw new SitecycleError(`${c.release.name} ${c.release.version} requires Python ${c.release.requiresPython} but ${c.python} on ${c.exec.name} is ${version}`, 'preflight');
    const pip = await c.exec.tryRun(pipVersion(c.python));
    if (pip.code !== 0)
        throw new SitecycleError(`pip is missing for ${c.python} on ${c.exec.name}: install python3-pip (${pip.stderr.trim().split('\n').pop()})`, 'preflight');
    const free = Number((await c.exec.run(hostScript(c.python, FREE_SPACE, [c.site.root]))).stdout.trim());
    if (free < c.site.preflight.minFreeMb)
        throw new SitecycleError(`only ${free} MiB free under ${c.site.root} on ${c.exec.name}; the site needs ${c.site.preflight.minFreeMb} MiB (preflight.min_free_mb)`, 'preflight');
    const test = await c.exec.tryRun(apacheConfigTest(c.site));
    if (test.code !== 0)
        throw new SitecycleError(`apachectl configtest fails on ${c.exec.name}: ${(test.stderr || test.stdout).trim()}`, 'preflight');
    return `Python ${version}, ${free} MiB free, configtest ok`;
}
async function install(c) {
    const l = siteLayout(c.site.root);
    const dir = l.release(c.release.version);
    const existing = (await listReleases(c.exec, c.site, c.python)).find(r => r.dir === c.release.version);
    if (existing) {
        const same = existing.complete && existing.info?.sha256 === c.release.sha256;
        if (same)
            return `${c.release.version} is already installed with the same content: reused`;
        if (existing.dir === c.state.idle || existing.dir === c.state.live)
            throw new SitecycleError(`version ${c.release.version} is installed in a slot of site ${c.site.name} with other content ` +
                `(sha256 ${existing.info?.sha256 ?? 'unknown'}, this release ${c.release.sha256}): a version must not be reused for other content; build a new version`, 'release');
        await c.exec.run(removeTree(dir));
    }
    c.createdRelease = true;
    await c.exec.run(createVenv(c.python, dir));
    let wheel = c.upload;
    if (c.release.kind === 'sdist') {
        const wheels = `${l.incoming}/${c.opId}/wheels`;
        await c.exec.run(pipWheel(c.python, c.upload, wheels));
        const listing = await c.exec.run({ argv: ['ls', '-1', wheels] });
        const built = listing.stdout.split('\n').filter(f => f.endsWith('.whl'));
        if (built.length !== 1)
            throw new SitecycleError(`building a wheel from ${basename(c.upload)} gave ${built.length} wheels`, 'install');
        wheel = `${wheels}/${built[0]}`;
    }
    c.wheelOnHost = wheel;
    const findLinks = [`${l.incoming}/${c.opId}`];
    await c.exec.run(pipInstall(c.python, dir, wheel, findLinks));
    await c.exec.tryRun(compileAll(dir));
    await c.exec.run(changeMode('755', dir));
    const record = {
        name: c.release.name,
        version: c.release.version,
        sha256: c.release.sha256,
        file: basename(c.release.file),
        kind: c.release.kind,
        commit: c.release.manifest.commit ?? null,
        installedAt: new Date().toISOString(),
        operation: c.opId
    };
    // Written last: a release directory without release.json is half-installed.
    await c.exec.writeFile(`${dir}/release.json.tmp`, JSON.stringify(record, null, 2) + '\n', 0o644);
    await c.exec.run({ argv: ['mv', '-T', `${dir}/release.json.tmp`, `${dir}/release.json`] });
    return `${c.release.kind} into releases/${c.release.version}`;
}
async function runHooks(c) {
    const dir = siteLayout(c.site.root).release(c.release.version);
    const configEnv = c.site.config?.env ?? 'SITECYCLE_CONFIG';
    const hooks = c.site.hooks.afterInstall;
    for (const [i, line] of hooks.entries()) {
        const argv = splitCommandLine(line, `${c.config.file}: sites.${c.site.name}.hooks.after_install[${i}]`);
        if (['python', 'python3', 'pip'].includes(argv[0]))
            argv[0] = `${dir}/bin/${argv[0]}`;
        c.reporter.info(`   hook: ${line}`);
        await c.exec.run({
            argv,
            cwd: dir,
            env: {
                PATH: `${dir}/bin:/usr/local/bin:/usr/bin:/bin`,
                VIRTUAL_ENV: dir,
                [configEnv]: `${dir}/app.ini`,
                SITECYCLE_SITE: c.site.name,
                SITECYCLE_ROOT: c.site.root,
                SITECYCLE_VERSION: c.release.version
            },
            unsetEnv: ['PYTHONPATH', 'PYTHONHOME'],
            redact: c.rendered?.secrets
        });
    }
    return `${hooks.length} hook${hooks.length === 1 ? '' : 's'}`;
}
/** Print the plan without touching anything. */
function deployPlan() {
    return describePlan(deploySteps());
}
/** Deploy a release to a site. Throws SitecycleError on bad input (nothing touched) and
 * OperationFailed when a step failed (its undos ran: the previous release serves). */
async function deploy(req) {
    const prepared = await prepareDeploy(req);
    const { release } = prepared;
    req.reporter.info(`deploying ${release.name} ${release.version} (${release.kind}) to site ${req.site.name} on ${req.exec.name}`);
    const state0 = await readSiteState(req.exec, req.site, req.config.app.python);
    requireInitialized(state0, req.site, req.exec);
    return withSiteOperation({
        op: 'deploy',
        config: req.config,
        site: req.site,
        exec: req.exec,
        reporter: req.reporter,
        lockWait: req.lockWait
    }, {
        version: release.version,
        sha256: release.sha256,
        liveSlot: state0.liveSlot,
        live: state0.live,
        idle: state0.idle
    }, async (octx) => {
        const state = await readSiteState(octx.exec, octx.site, octx.python);
        const base = {
            op: 'deploy',
            site: req.site.name,
            host: req.exec.name,
            previousVersion: state.live,
            targetVersion: release.version,
            url: req.site.url,
            operationId: octx.opId,
            notes: []
        };
        if (state.live === release.version) {
            req.reporter.info(`${release.version} is already live on site ${req.site.name}: nothing to do`);
            return {
                ...base,
                status: 'unchanged',
                version: state.live,
                rolledBack: false,
                undoComplete: true,
                steps: [],
                journal: { live: state.live }
            };
        }
        const ctx = {
            ...octx,
            release,
            rendered: prepared.rendered,
            state,
            upload: `${siteLayout(req.site.root).incoming}/${octx.opId}/${basename(release.file)}`,
            createdRelease: false,
            idleBefore: state.idle,
            switched: false,
            notes: []
        };
        try {
            const steps = await runPipeline(deploySteps(), ctx, req.reporter, {
                onEvent: e => octx.journal.append({ id: octx.opId, op: 'deploy', event: 'step', ...e })
            });
            await octx.exec.tryRun(removeTree(`${siteLayout(req.site.root).release(release.version)}/BAD`));
            return {
                ...base,
                status: 'deployed',
                version: release.version,
                rolledBack: false,
                undoComplete: true,
                steps,
                journal: { live: release.version, previous: state.live }
            };
        }
        catch (e) {
            if (!(e instanceof PipelineError))
                throw e;
            await octx.exec.tryRun(removeTree(`${siteLayout(req.site.root).incoming}/${octx.opId}`));
            const after = await readSiteState(octx.exec, octx.site, octx.python).catch(() => undefined);
            const switchedOnce = e.reports.some(r => r.name === 'switch' && (r.status === 'undone' || r.status === 'undo-failed'));
            throw new OperationFailed({
                ...base,
                status: switchedOnce || e.undoComplete ? 'rolled-back' : 'failed',
                version: after?.live ?? state.live,
                rolledBack: e.undoComplete,
                undoComplete: e.undoComplete,
                steps: e.reports,
                error: e.cause instanceof Error ? e.cause.message : String(e.cause),
                failedStep: e.failedStep
            });
        }
    });
}

async function writeIfChanged(exec, path, content, mode) {
    const now = await exec.readFile(path);
    if (now === content)
        return false;
    await exec.writeFile(`${path}.tmp`, content, mode);
    await exec.run({ argv: ['mv', '-T', `${path}.tmp`, path] });
    return true;
}
function initSteps() {
    return [
        {
            name: 'check-vhost',
            title: 'refuse to replace an Apache vhost sitecycle did not write',
            run: async (c) => {
                c.previousVhost = await c.exec.readFile(c.vhostPath);
                if (c.previousVhost !== undefined && !c.previousVhost.startsWith(vhostMarker(c.site)))
                    throw new SitecycleError(`${c.vhostPath} on ${c.exec.name} exists and was not written by sitecycle for site ${c.site.name} at ${c.site.root}: ` +
                        `sitecycle never overwrites it; move it away or set sites.${c.site.name}.apache.conf_dir`, 'site');
                if (c.linkPath)
                    c.previousLink = (await c.exec.tryRun({ argv: ['test', '-L', c.linkPath] })).code === 0;
                return c.previousVhost === undefined ? 'new vhost' : 'updating the vhost sitecycle wrote';
            }
        },
        {
            name: 'make-dirs',
            title: 'create the site layout (releases, slots, wsgi, shared, snapshots, maintenance, .sitecycle)',
            run: async (c) => {
                const l = siteLayout(c.site.root);
                await c.exec.run(makeDirs([
                    l.releases,
                    l.slots,
                    l.wsgiDir,
                    l.shared,
                    `${l.shared}/logs`,
                    l.snapshots,
                    l.maintenance,
                    l.state,
                    ...SLOTS.map(s => l.slotRunDir(s)),
                    `${c.site.root}/run/current`
                ]));
                await c.exec.run({ argv: ['chmod', '755', c.site.root] });
                await c.exec.run({ argv: ['chmod', '700', l.state] });
            }
        },
        {
            name: 'placeholder',
            title: 'create the empty virtualenv the slots use until the first deploy',
            run: async (c) => {
                const l = siteLayout(c.site.root);
                const empty = l.release(EMPTY_RELEASE);
                if ((await c.exec.tryRun({ argv: ['test', '-x', `${empty}/bin/python`] })).code !== 0)
                    await c.exec.run(createVenv(c.python, empty));
                for (const s of SLOTS)
                    if ((await c.exec.tryRun({ argv: ['test', '-L', l.slot(s)] })).code !== 0)
                        await c.exec.run(makeLink(`../releases/${EMPTY_RELEASE}`, l.slot(s)));
                if ((await c.exec.tryRun({ argv: ['test', '-L', l.current] })).code !== 0)
                    await c.exec.run(makeLink(`releases/${EMPTY_RELEASE}`, l.current));
            }
        },
        {
            name: 'wsgi-scripts',
            title: 'write one WSGI script per slot, outside the releases',
            run: async (c) => {
                const l = siteLayout(c.site.root);
                const changed = [];
                for (const s of SLOTS)
                    if (await writeIfChanged(c.exec, l.wsgiScript(s), renderWsgiScript(c.site, c.config.app.wsgi, l.slot(s), s), 0o644))
                        changed.push(`${s}.wsgi`);
                if (await writeIfChanged(c.exec, l.currentScript, renderWsgiScript(c.site, c.config.app.wsgi, l.current, 'current'), 0o644))
                    changed.push('current.wsgi');
                if ((await c.exec.readFile(l.liveMap)) === undefined)
                    await c.exec.writeFile(l.liveMap, 'live blue\n', 0o644);
                await c.exec.tryRun(changeOwner(`${c.site.apache.user}:${c.site.apache.group}`, `${c.site.root}/shared/logs`));
                return changed.length ? `wrote ${changed.join(', ')}` : 'unchanged';
            }
        },
        {
            name: 'site-file',
            title: 'record the site in .sitecycle/site.json',
            run: async (c) => {
                const l = siteLayout(c.site.root);
                const record = {
                    site: c.site.name,
                    root: c.site.root,
                    mode: c.site.apache.mode,
                    vhost: c.vhostPath,
                    initializedAt: new Date().toISOString()
                };
                if ((await c.exec.readFile(l.siteFile)) === undefined)
                    await c.exec.writeFile(l.siteFile, JSON.stringify(record, null, 2) + '\n', 0o644);
            }
        },
        {
            name: 'write-vhost',
            title: 'write the Apache vhost (blue/green: two daemon groups, routed by live.map)',
            run: async (c) => {
                await c.exec.run(makeDirs([c.site.apache.confDir]));
                await c.exec.writeFile(c.vhostPath, renderVhost(c.site), 0o644);
                if (c.linkPath)
                    await c.exec.run(makeLink(c.vhostPath, c.linkPath));
                return c.vhostPath;
            },
            undo: async (c) => {
                if (c.linkPath && !c.previousLink)
                    await c.exec.run(removeFile(c.linkPath));
                if (c.previousVhost === undefined)
                    await c.exec.run(removeFile(c.vhostPath));
                else
                    await c.exec.writeFile(c.vhostPath, c.previousVhost, 0o644);
            }
        },
        {
            name: 'configtest',
            title: 'apachectl configtest',
            run: async (c) => {
                const r = await c.exec.tryRun(apacheConfigTest(c.site));
                if (r.code !== 0)
                    throw new SitecycleError(`apachectl configtest fails with the new vhost: ${(r.stderr || r.stdout).trim()}`, 'apache');
            }
        },
        {
            name: 'reload',
            title: 'apachectl graceful, then wait for the daemon groups to start',
            when: c => c.reload !== false,
            run: async (c) => {
                await c.exec.run(apacheGraceful(c.site));
                const l = siteLayout(c.site.root);
                const dirs = c.site.apache.mode === 'blue-green'
                    ? SLOTS.map(s => l.slotRunDir(s))
                    : [`${c.site.root}/run/current`];
                const deadline = Date.now() + 30_000;
                for (const d of dirs) {
                    for (;;) {
                        const r = await c.exec.run(hostScript(c.python, LIST_GROUP, [d]));
                        if (r.stdout.trim())
                            break;
                        if (Date.now() > deadline)
                            throw new SitecycleError(`Apache did not start the daemon processes of ${d} within 30s: see ${c.site.root}/shared/logs/error.log`, 'apache');
                        await new Promise(res => setTimeout(res, 100));
                    }
                }
            }
        }
    ];
}
async function initSite(req) {
    const a = req.site.apache;
    const file = vhostFileName(req.site);
    const ctx = {
        ...req,
        python: req.config.app.python,
        vhostPath: `${a.confDir}/${file}`,
        linkPath: a.enableDir ? `${a.enableDir}/${file}` : undefined,
        previousLink: false
    };
    try {
        return await runPipeline(initSteps(), ctx, req.reporter);
    }
    catch (e) {
        if (e instanceof PipelineError) {
            const cause = e.cause;
            if (cause instanceof SitecycleError)
                throw cause;
            throw new SitecycleError(`init of site ${req.site.name} failed at step '${e.failedStep}': ${cause instanceof Error ? cause.message : String(cause)}`, 'init');
        }
        throw e;
    }
}

function rollbackSteps() {
    return [
        {
            name: 'start-idle',
            title: 'start the target release in the idle slot (skipped when it is already warm there)',
            when: c => !c.warm,
            run: async (c) => {
                await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.target);
                if (c.site.apache.mode === 'blue-green')
                    await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot);
                return `slot ${c.state.idleSlot}`;
            },
            undo: async (c) => {
                await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE);
                if (c.site.apache.mode === 'blue-green')
                    await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot);
            }
        },
        {
            name: 'verify-idle',
            title: 'verify the target release through the private route',
            when: c => !c.warm && c.site.apache.mode === 'blue-green',
            run: async (c) => {
                const p = await probeHealth(c.exec, c.site, c.python, {
                    slot: c.state.idleSlot,
                    version: c.target
                });
                if (!p.ok)
                    throw new SitecycleError(describeProbe(p, `release ${c.target} on slot ${c.state.idleSlot}`, c.target), 'verify');
            }
        },
        {
            name: 'switch',
            title: 'route users to the target release (one atomic rename of live.map)',
            run: async (c) => {
                if (c.site.apache.mode === 'single')
                    await restartSlotGroup(c.exec, c.site, c.python, 'current');
                else
                    await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot);
                return `${c.state.live ?? 'none'} -> ${c.target}`;
            },
            undo: async (c) => {
                if (c.site.apache.mode === 'single') {
                    await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE);
                    await restartSlotGroup(c.exec, c.site, c.python, 'current');
                }
                else
                    await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot);
            }
        },
        {
            name: 'verify-live',
            title: 'verify the site as users see it',
            run: async (c) => {
                const p = await probeHealth(c.exec, c.site, c.python, { version: c.target, successes: 1 });
                if (!p.ok)
                    throw new SitecycleError(describeProbe(p, `site ${c.site.name} after the rollback`, c.target), 'verify');
            }
        },
        {
            name: 'mark-bad',
            title: 'mark the release left behind as bad',
            critical: false,
            when: c => c.state.live !== null,
            run: async (c) => {
                const reason = { markedAt: new Date().toISOString(), by: c.opId, reason: 'rolled back' };
                await c.exec.writeFile(`${siteLayout(c.site.root).release(c.state.live)}/BAD`, JSON.stringify(reason) + '\n', 0o644);
                await c.journal.append({
                    id: c.opId,
                    op: 'rollback',
                    event: 'mark-bad',
                    version: c.state.live
                });
                return `${c.state.live} marked bad`;
            }
        }
    ];
}
/** Choose the release to go back to: the named one, or the warm one in the idle slot, or the
 * newest installed good release before the live one. */
async function chooseTarget(c, state, to) {
    const releases = (await listReleases(c.exec, c.site, c.python)).filter(r => r.complete);
    if (to) {
        if (!isValidVersion(to))
            throw new SitecycleError(`invalid version '${to}': expected a PEP 440 version such as 1.4.0`, 'input');
        const want = normalizeVersion(to);
        const found = releases.find(r => r.dir === to || (isValidVersion(r.dir) && normalizeVersion(r.dir) === want));
        if (!found)
            throw new SitecycleError(`version ${to} is not installed on site ${c.site.name}; installed: ${releases.map(r => r.dir).join(', ') || 'none'} (deploy it instead)`, 'input');
        if (found.dir === state.live)
            throw new SitecycleError(`version ${to} is already live on site ${c.site.name}`, 'input');
        return {
            target: found.dir,
            warm: found.dir === state.idle && c.site.apache.mode === 'blue-green'
        };
    }
    if (c.site.apache.mode === 'blue-green' &&
        state.idle &&
        releases.some(r => r.dir === state.idle && !r.bad))
        return { target: state.idle, warm: true };
    const previous = releases
        .filter(r => r.dir !== state.live && !r.bad)
        .sort((a, b) => (b.info?.installedAt ?? '').localeCompare(a.info?.installedAt ?? ''))
        .filter(r => (r.info?.installedAt ?? '') <
        (releases.find(x => x.dir === state.live)?.info?.installedAt ?? '\uffff'))[0];
    if (!previous)
        throw new SitecycleError(`site ${c.site.name} has no earlier good release to roll back to`, 'input');
    return { target: previous.dir, warm: false };
}
async function rollback(req) {
    const state0 = await readSiteState(req.exec, req.site, req.config.app.python);
    requireInitialized(state0, req.site, req.exec);
    return withSiteOperation({
        op: 'rollback',
        config: req.config,
        site: req.site,
        exec: req.exec,
        reporter: req.reporter,
        lockWait: req.lockWait
    }, { to: req.to ?? null, liveSlot: state0.liveSlot, live: state0.live, idle: state0.idle }, async (octx) => {
        const state = await readSiteState(octx.exec, octx.site, octx.python);
        const { target, warm } = await chooseTarget(octx, state, req.to);
        req.reporter.info(`rolling back site ${req.site.name} from ${state.live ?? 'nothing'} to ${target}${warm ? ' (warm in the idle slot)' : ''}`);
        const ctx = { ...octx, state, target, warm, idleBefore: state.idle };
        const base = {
            op: 'rollback',
            site: req.site.name,
            host: req.exec.name,
            previousVersion: state.live,
            targetVersion: target,
            url: req.site.url,
            operationId: octx.opId,
            notes: []
        };
        try {
            const steps = await runPipeline(rollbackSteps(), ctx, req.reporter, {
                onEvent: e => octx.journal.append({ id: octx.opId, op: 'rollback', event: 'step', ...e })
            });
            return {
                ...base,
                status: 'rolled-back',
                version: target,
                rolledBack: true,
                undoComplete: true,
                steps,
                journal: { live: target, previous: state.live }
            };
        }
        catch (e) {
            if (!(e instanceof PipelineError))
                throw e;
            throw new OperationFailed({
                ...base,
                status: 'failed',
                version: state.live,
                rolledBack: false,
                undoComplete: e.undoComplete,
                steps: e.reports,
                error: e.cause instanceof Error ? e.cause.message : String(e.cause),
                failedStep: e.failedStep
            });
        }
    });
}

/** Live release, installed releases, lock holder and history from the journal. Read only. */
async function siteStatus(config, site, exec, historyLength = 10) {
    const python = config.app.python;
    const state = await readSiteState(exec, site, python);
    const base = { site: site.name, host: exec.name, root: site.root, url: site.url };
    if (!state.initialized)
        return {
            ...base,
            initialized: false,
            live: null,
            liveSlot: state.liveSlot,
            idle: null,
            releases: [],
            lock: null,
            history: [],
            unfinished: []
        };
    const ops = await new Journal(exec, siteLayout(site.root).journal).operations();
    const holder = await readHolder(exec, site.root);
    return {
        ...base,
        initialized: true,
        live: state.live,
        liveSlot: state.liveSlot,
        idle: state.idle,
        releases: await listReleases(exec, site, python),
        lock: holder ? { ...holder, state: holder.pid ? holderState(holder) : 'unknown' } : null,
        history: ops
            .slice(-historyLength)
            .reverse()
            .map(o => ({
            id: o.id,
            op: o.op,
            at: o.start.at,
            status: o.end ? String(o.end.status ?? o.end.event) : 'unfinished',
            version: o.start.version ?? o.start.to ?? undefined,
            live: o.end?.live,
            error: o.end?.error
        })),
        unfinished: ops.filter(o => !o.end).map(o => o.id)
    };
}
/** Clear a lock whose holder is gone. Refuses while the holder is alive, and when that cannot
 * be told from here (another machine) unless forced. */
async function unlockSite(site, exec, force = false) {
    const holder = await readHolder(exec, site.root);
    if (!holder)
        return null;
    const state = holder.pid ? holderState(holder) : 'unknown';
    if (state === 'alive')
        throw new SitecycleError(`site ${site.name} is locked by ${describeHolder(holder)}, which is still running: wait for it or stop it first`, 'lock');
    if (state === 'unknown' && !force)
        throw new SitecycleError(`site ${site.name} is locked by ${describeHolder(holder)}; whether it still runs cannot be told from this machine: ` +
            `if you are sure it is gone, run \`sitecycle unlock ${site.name} --force\``, 'lock');
    await exec.run(removeTree(siteLayout(site.root).lock));
    await new Journal(exec, siteLayout(site.root).journal).append({
        id: newOperationId(),
        op: 'unlock',
        event: 'mark-bad',
        note: `lock of ${holder.id} cleared (${state})`
    });
    return holder;
}

/**
 * Building a release on the runner: `python -m build` makes the sdist and the wheel offline
 * (no isolation, a hermetic pip environment), then the files, manifest.json and SHA256SUMS
 * appear together as `<outDir>/<version>/` by one rename, so no half-built release is seen.
 */
/** The Python used to build when none is given: Debian's, by full path. */
const DEFAULT_BUILD_PYTHON = '/usr/bin/python3';
/** pip settings that would let a build reach an index or a stray configuration. */
const PIP_ENV_REMOVED = ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'];
/** The argv that builds an sdist and a wheel into outDir, offline. */
function pythonBuildCommand(python, sourceDir, outDir) {
    return {
        argv: [
            python,
            '-m',
            'build',
            '--no-isolation',
            '--sdist',
            '--wheel',
            '--outdir',
            outDir,
            sourceDir
        ],
        cwd: sourceDir,
        env: { PIP_CONFIG_FILE: '/dev/null', PYTHONDONTWRITEBYTECODE: '1' },
        unsetEnv: PIP_ENV_REMOVED
    };
}
/** Run a command on this machine (argv, no shell), feeding output lines to onLine. */
function runLocal(command, onLine) {
    const env = { ...process.env, ...command.env };
    for (const name of command.unsetEnv ?? [])
        delete env[name];
    return new Promise((resolve, reject) => {
        const child = spawn(command.argv[0], command.argv.slice(1), {
            cwd: command.cwd,
            env,
            stdio: ['ignore', 'pipe', 'pipe']
        });
        const out = { stdout: [], stderr: [] };
        const partial = { stdout: '', stderr: '' };
        const feed = (stream, chunk) => {
            const text = chunk.toString('utf8');
            out[stream].push(text);
            if (!onLine)
                return;
            const lines = (partial[stream] + text).split('\n');
            partial[stream] = lines.pop() ?? '';
            for (const line of lines)
                onLine(line);
        };
        child.stdout.on('data', (c) => feed('stdout', c));
        child.stderr.on('data', (c) => feed('stderr', c));
        child.on('error', reject);
        child.on('close', code => {
            if (onLine)
                for (const rest of [partial.stdout, partial.stderr])
                    if (rest)
                        onLine(rest);
            resolve({ code: code ?? 1, stdout: out.stdout.join(''), stderr: out.stderr.join('') });
        });
    });
}
async function gitHead(dir) {
    try {
        const r = await runLocal({ argv: ['git', '-C', dir, 'rev-parse', 'HEAD'] });
        const sha = r.stdout.trim();
        return r.code === 0 && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null;
    }
    catch {
        return null;
    }
}
/** Header fields of a METADATA file (RFC 822 style, up to the first blank line). */
function parseMetadataHeaders(text) {
    const headers = new Map();
    for (const line of text.split(/\r?\n/)) {
        if (line === '')
            break;
        if (/^\s/.test(line))
            continue; // continuation of a long header such as License
        const colon = line.indexOf(':');
        if (colon > 0) {
            const key = line.slice(0, colon).toLowerCase();
            if (!headers.has(key))
                headers.set(key, line.slice(colon + 1).trim());
        }
    }
    return headers;
}
/** Name, version and Requires-Python from a wheel's `*.dist-info/METADATA`. */
async function readWheelMetadata(wheel) {
    const names = await listZipNames(wheel);
    const member = names.find(n => /^[^/]+\.dist-info\/METADATA$/.test(n));
    const data = member ? await readZipMember(wheel, member) : undefined;
    if (!data)
        throw new SitecycleError(`wheel ${wheel} has no .dist-info/METADATA`, 'release');
    const headers = parseMetadataHeaders(data.toString('utf8'));
    const name = headers.get('name');
    const version = headers.get('version');
    if (!name || !version) {
        throw new SitecycleError(`wheel ${wheel}: METADATA lacks Name or Version`, 'release');
    }
    return { name, version, requiresPython: headers.get('requires-python') || null };
}
async function exists(p) {
    try {
        await fs.lstat(p);
        return true;
    }
    catch {
        return false;
    }
}
/**
 * Build the sdist and wheel of `sourceDir` and publish them with manifest.json and SHA256SUMS
 * as `<outDir>/<version>/`. Refuses to replace an existing release of that version.
 */
async function buildRelease(opts) {
    const sourceDir = path__default.resolve(opts.sourceDir);
    const outDir = path__default.resolve(opts.outDir);
    if (!(await exists(path__default.join(sourceDir, 'pyproject.toml'))) &&
        !(await exists(path__default.join(sourceDir, 'setup.py')))) {
        throw new SitecycleError(`cannot build ${sourceDir}: it has no pyproject.toml or setup.py`, 'release');
    }
    const python = opts.python ?? DEFAULT_BUILD_PYTHON;
    const workDir = await fs.mkdtemp(path__default.join(os__default.tmpdir(), 'sitecycle-build-'));
    let staging;
    try {
        const command = pythonBuildCommand(python, sourceDir, workDir);
        opts.onProgress?.(`$ ${describeCommand(command)}`);
        let result;
        try {
            result = await runLocal(command, opts.onProgress);
        }
        catch (err) {
            throw new SitecycleError(`cannot run ${python}: ${err.message}`, 'release');
        }
        if (result.code !== 0) {
            if (/No module named build\b/.test(result.stderr)) {
                throw new SitecycleError(`${python} has no 'build' module: install it (apt-get install python3-build) to build releases`, 'release');
            }
            throw new CommandError('local', describeCommand(command), result.code, result.stdout, result.stderr);
        }
        const built = await fs.readdir(workDir);
        const wheels = built.filter(n => n.endsWith('.whl'));
        const sdists = built.filter(n => n.endsWith('.tar.gz'));
        if (wheels.length !== 1 || sdists.length !== 1) {
            throw new SitecycleError(`python -m build in ${sourceDir} made ${built.join(', ') || 'nothing'}; expected one sdist and one wheel`, 'release');
        }
        const wheelPath = path__default.join(workDir, wheels[0]);
        const sdistPath = path__default.join(workDir, sdists[0]);
        const meta = await readWheelMetadata(wheelPath);
        const version = normalizeVersion(meta.version);
        for (const name of [wheels[0], sdists[0]]) {
            if (normalizeVersion(parseReleaseFileName(name).version) !== version) {
                throw new SitecycleError(`built file ${name} does not carry the version ${meta.version} of its METADATA`, 'release');
            }
        }
        await checkArchive(sdistPath);
        await checkArchive(wheelPath);
        const files = [];
        for (const [name, kind] of [
            [sdists[0], 'sdist'],
            [wheels[0], 'wheel']
        ]) {
            files.push({ name, kind, ...(await digestFile(path__default.join(workDir, name))) });
        }
        const manifest = {
            name: meta.name,
            version,
            commit: opts.commit === undefined ? await gitHead(sourceDir) : opts.commit,
            requires_python: meta.requiresPython,
            built_at: new Date().toISOString(),
            files
        };
        const dir = path__default.join(outDir, version);
        if (await exists(dir)) {
            throw new SitecycleError(`release ${version} already exists in ${outDir}: releases are never rebuilt in place`, 'release');
        }
        await fs.mkdir(outDir, { recursive: true });
        // Hidden staging names are skipped by listReleaseVersions, so readers never see them.
        staging = await fs.mkdtemp(path__default.join(outDir, `.building-${version}-`));
        for (const f of files)
            await fs.copyFile(path__default.join(workDir, f.name), path__default.join(staging, f.name));
        await writeManifest(staging, manifest);
        try {
            await fs.rename(staging, dir);
        }
        catch (err) {
            const code = err.code;
            if (code === 'EEXIST' || code === 'ENOTEMPTY') {
                throw new SitecycleError(`release ${version} already exists in ${outDir}: another build made it first`, 'release');
            }
            throw err;
        }
        staging = undefined;
        await fs.chmod(dir, 0o755);
        return { manifest, manifestPath: path__default.join(dir, 'manifest.json'), dir };
    }
    finally {
        await fs.rm(workDir, { recursive: true, force: true });
        if (staging)
            await fs.rm(staging, { recursive: true, force: true });
    }
}

/**
 * The sample application (examples/sample-app) prepared as a source tree at a chosen version,
 * optionally broken on purpose: used by the tests, the demo and the benchmarks.
 */
const SAMPLE_DIR = 'sample-app';
const SKIPPED = new Set(['build', 'dist', '__pycache__', '.pytest_cache']);
function moduleDir() {
    try {
        return path__default.dirname(fileURLToPath(import.meta.url));
    }
    catch {
        return undefined;
    }
}
function walkUpFor(start) {
    let dir = path__default.resolve(start);
    for (;;) {
        const candidate = path__default.join(dir, 'examples', SAMPLE_DIR);
        if (existsSync(path__default.join(candidate, 'pyproject.toml')))
            return candidate;
        const parent = path__default.dirname(dir);
        if (parent === dir)
            return undefined;
        dir = parent;
    }
}
/**
 * The sample application's directory: `<examplesDir>/sample-app` when given, else the first
 * `examples/sample-app` found walking up from the working directory, then from this module
 * (which works both from src/ and from the bundled dist/cli.js).
 */
function findSampleApp(examplesDir) {
    if (examplesDir) {
        const dir = path__default.resolve(examplesDir, SAMPLE_DIR);
        if (!existsSync(path__default.join(dir, 'pyproject.toml'))) {
            throw new SitecycleError(`no sample application in ${examplesDir}: ${dir}/pyproject.toml is missing`);
        }
        return dir;
    }
    const here = moduleDir();
    const found = walkUpFor(process.cwd()) ?? (here ? walkUpFor(here) : undefined);
    if (!found) {
        throw new SitecycleError(`cannot find examples/${SAMPLE_DIR} above ${process.cwd()}: run from the sitecycle repository or pass examplesDir`);
    }
    return found;
}
function pythonString(value) {
    return JSON.stringify(value);
}
/**
 * Copy the sample application into `<into>/sitecycle-sample-<version>[-broken-<how>]`
 * (replacing an earlier copy there), write its version and breakage, and return that
 * directory: a source tree ready for buildRelease.
 */
async function prepareSampleSource(opts) {
    const version = normalizeVersion(opts.version);
    if (opts.broken !== undefined && opts.broken !== 'health' && opts.broken !== 'import') {
        throw new SitecycleError(`invalid breakage '${String(opts.broken)}': expected health or import`);
    }
    const from = findSampleApp(opts.examplesDir);
    const dest = path__default.resolve(opts.into, `sitecycle-sample-${version}${opts.broken ? `-broken-${opts.broken}` : ''}`);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.mkdir(opts.into, { recursive: true });
    await fs.cp(from, dest, {
        recursive: true,
        filter: src => {
            const base = path__default.basename(src);
            return !SKIPPED.has(base) && !base.endsWith('.egg-info') && !base.endsWith('.pyc');
        }
    });
    const pkg = path__default.join(dest, 'sitecycle_sample');
    await fs.writeFile(path__default.join(pkg, '_version.py'), `"""The release's version; written by prepareSampleSource."""\n\n__version__ = ${pythonString(version)}\n`);
    await fs.writeFile(path__default.join(pkg, '_broken.py'), `"""How this build is broken, for tests of failed deploys; written by prepareSampleSource."""\n\n` +
        `BROKEN = ${opts.broken ? pythonString(opts.broken) : 'None'}\n`);
    return dest;
}

/**
 * A private Apache (real apache2 + mod_wsgi + mod_rewrite) for the demo, the benchmarks and the
 * integration tests: its own config, run dir and logs in a folder, sites included from
 * `<dir>/sites`, driven through a small apachectl wrapper so sitecycle runs `configtest` and
 * `graceful` exactly as on a server. It leaves the system's Apache alone.
 */
const run = promisify(execFile);
async function freePort() {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
            const a = s.address();
            const port = typeof a === 'object' && a ? a.port : 0;
            s.close(() => resolve(port));
        });
        s.on('error', reject);
    });
}
/** Start a private Apache in `dir` (a new temp dir when omitted). */
async function startApache(dir) {
    dir = dir ?? (await mkdtemp(join(tmpdir(), 'sitecycle-apache-')));
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    const confDir = join(dir, 'sites');
    await mkdir(confDir);
    await mkdir(join(dir, 'run'));
    const basePort = await freePort();
    const conf = join(dir, 'apache2.conf');
    const mods = '/usr/lib/apache2/modules';
    await writeFile(conf, [
        'ServerRoot /etc/apache2',
        `Listen 127.0.0.1:${basePort}`,
        `PidFile ${dir}/run/apache2.pid`,
        `ErrorLog ${dir}/error.log`,
        'LogLevel warn',
        'User www-data',
        'Group www-data',
        'ServerName 127.0.0.1',
        `DefaultRuntimeDir ${dir}/run`,
        `Mutex file:${dir}/run default`,
        `LoadModule mpm_event_module ${mods}/mod_mpm_event.so`,
        `LoadModule authz_core_module ${mods}/mod_authz_core.so`,
        `LoadModule rewrite_module ${mods}/mod_rewrite.so`,
        `LoadModule wsgi_module ${mods}/mod_wsgi.so`,
        'ThreadsPerChild 25',
        'MaxRequestWorkers 150',
        `WSGISocketPrefix ${dir}/run/wsgi`,
        'WSGIRestrictEmbedded On',
        'KeepAlive On',
        `IncludeOptional ${confDir}/*.conf`,
        ''
    ].join('\n'));
    const ctl = join(dir, 'apachectl');
    await writeFile(ctl, `#!/bin/sh
# apachectl for the test Apache in ${dir}
case "$1" in
  configtest) exec /usr/sbin/apache2 -f ${conf} -t ;;
  graceful|restart|start|stop) exec /usr/sbin/apache2 -f ${conf} -k "$1" ;;
  *) echo "usage: $0 configtest|graceful|restart|start|stop" >&2; exit 2 ;;
esac
`);
    await chmod(ctl, 0o755);
    const modCheck = await readFile(`${mods}/mod_wsgi.so`).then(() => true, () => false);
    if (!modCheck)
        throw new Error('mod_wsgi is not installed: apt-get install libapache2-mod-wsgi-py3');
    await run(ctl, ['start']);
    // apachectl start returns before Apache listens: poll its pid file and port.
    const deadline = Date.now() + 15000;
    for (;;) {
        const ok = await fetch(`http://127.0.0.1:${basePort}/`).then(() => true, () => false);
        if (ok)
            break;
        if (Date.now() > deadline)
            throw new Error(`the private Apache did not start: ${await readFile(`${dir}/error.log`, 'utf8').catch(() => '')}`);
        await new Promise(r => setTimeout(r, 100));
    }
    return {
        dir,
        ctl: [ctl],
        confDir,
        errorLog: join(dir, 'error.log'),
        async logTail() {
            const t = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
            return t.split('\n').slice(-30).join('\n');
        },
        async stop() {
            const pid = Number((await readFile(`${dir}/run/apache2.pid`, 'utf8').catch(() => '0')).trim());
            await run(ctl, ['stop']).catch(() => undefined);
            if (pid) {
                const deadline = Date.now() + 10000;
                while (Date.now() < deadline) {
                    try {
                        process.kill(pid, 0);
                    }
                    catch {
                        break;
                    }
                    await new Promise(r => setTimeout(r, 100));
                }
            }
            await rm(dir, { recursive: true, force: true });
        }
    };
}

/**
 * `sitecycle demo`: the main job on embedded defaults. Builds the sample application at 1.0.0,
 * 2.0.0 and a broken 3.0.0, starts a private Apache on 127.0.0.1, initializes a site, deploys
 * 1.0.0 and 2.0.0 (each answering over HTTP), then 3.0.0, whose health check fails: the deploy
 * rolls back on its own and 2.0.0 serves on. Nothing outside the demo folder is changed.
 */
const TEMPLATE = `[app]
greeting = Hello from the sitecycle demo ({{ site.name }})
secret_key = {{ secret.SAMPLE_SECRET_KEY }}
root = {{ site.root }}
version = {{ release.version }}
`;
async function stopPrevious(dir) {
    const pidFile = join(dir, 'apache', 'run', 'apache2.pid');
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
    if (!pid)
        return;
    try {
        process.kill(pid, 'SIGTERM');
    }
    catch {
        return;
    }
    for (let i = 0; i < 100; i++) {
        try {
            process.kill(pid, 0);
        }
        catch {
            return;
        }
        await new Promise(r => setTimeout(r, 100));
    }
}
async function answer(url) {
    try {
        const r = await fetch(url);
        return `HTTP ${r.status} ${(await r.text()).trim()}`;
    }
    catch (e) {
        return `no answer (${e.message})`;
    }
}
async function runDemo(opts) {
    const dir = resolve(opts.dir ?? '/tmp/sitecycle-demo');
    const port = opts.port ?? 8080;
    const { reporter, out } = opts;
    await stopPrevious(dir);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    out(`sitecycle demo in ${dir}, site on http://127.0.0.1:${port}`);
    const releases = join(dir, 'releases');
    const builds = [
        ['1.0.0', undefined],
        ['2.0.0', undefined],
        ['3.0.0', 'health']
    ];
    for (const [version, broken] of builds) {
        reporter.info(`building the sample app ${version}${broken ? ` (broken: ${broken} check fails)` : ''}`);
        const src = await prepareSampleSource({ version, broken, into: join(dir, 'src', version) });
        await buildRelease({ sourceDir: src, outDir: releases, commit: null });
    }
    reporter.info('starting a private Apache (mod_wsgi, mod_rewrite) on 127.0.0.1');
    const apache = await startApache(join(dir, 'apache'));
    await mkdir(join(dir, 'deploy'));
    await writeFile(join(dir, 'deploy', 'app.ini.tmpl'), TEMPLATE);
    const yaml = `# Embedded defaults of \`sitecycle demo\`
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  demo:
    host: local
    root: ${dir}/site
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage check"]
    keep_releases: 3
    releases: releases
    preflight: { min_free_mb: 50 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`;
    const configFile = join(dir, 'sitecycle.yml');
    await writeFile(configFile, yaml);
    const config = parseConfig(yaml, configFile);
    const site = config.sites.demo;
    const exec = new LocalExecutor();
    if (!process.env.SAMPLE_SECRET_KEY)
        process.env.SAMPLE_SECRET_KEY = randomBytes(18).toString('base64url');
    reporter.addSecret(process.env.SAMPLE_SECRET_KEY);
    let code = 0;
    try {
        reporter.info(`\n== init site demo`);
        await initSite({ config, site, exec, reporter });
        out(`init: ${await answer(`${site.url}/__version__`)}`);
        for (const version of ['1.0.0', '2.0.0']) {
            reporter.info(`\n== deploy ${version}`);
            const o = await deploy({ config, site, exec, reporter, version });
            out(`deploy ${version}: ${o.status}; ${site.url}/__version__ answers ${await answer(`${site.url}/__version__`)}`);
        }
        reporter.info(`\n== deploy 3.0.0 (broken: its health check answers 500)`);
        try {
            await deploy({ config, site, exec, reporter, version: '3.0.0' });
            out('deploy 3.0.0: unexpectedly succeeded');
            code = 1;
        }
        catch (e) {
            if (!(e instanceof OperationFailed))
                throw e;
            out(`deploy 3.0.0: ${e.outcome.status} at step ${e.outcome.failedStep}: ${e.outcome.error}`);
            out(`after the automatic rollback ${site.url}/__version__ answers ${await answer(`${site.url}/__version__`)}`);
            if (e.outcome.version !== '2.0.0')
                code = 1;
        }
        const st = await siteStatus(config, site, exec);
        out(`status: live ${st.live}, previous ${st.idle}, releases ${st.releases.map(r => r.dir).join(', ')}`);
        out(opts.keep === false
            ? 'demo done; Apache stopped'
            : `demo done; the site stays up at ${site.url}/ — try: curl ${site.url}/__version__\n` +
                `  status:   node dist/cli.js status demo -c ${configFile}\n` +
                `  rollback: node dist/cli.js rollback demo -c ${configFile}\n` +
                `  stop:     ${apache.ctl.join(' ')} stop`);
    }
    finally {
        if (opts.keep === false)
            await apache.stop();
    }
    return code;
}

/** Replaces registered secrets in text. */
class SecretFilter {
    secrets = [];
    add(secret) {
        if (secret && secret.length >= 3 && !this.secrets.includes(secret)) {
            this.secrets.push(secret);
            this.secrets.sort((a, b) => b.length - a.length);
        }
    }
    list() {
        return this.secrets;
    }
    apply(text) {
        let out = text;
        for (const s of this.secrets)
            out = out.split(s).join('***');
        return out;
    }
}
/** Lines on a stream (stderr for the CLI), one per event, with elapsed times. */
class StreamReporter {
    write;
    quiet;
    filter = new SecretFilter();
    constructor(write = line => process.stderr.write(line + '\n'), quiet = false) {
        this.write = write;
        this.quiet = quiet;
    }
    info(message) {
        if (!this.quiet)
            this.write(this.filter.apply(message));
    }
    warn(message) {
        this.write(this.filter.apply(`warning: ${message}`));
    }
    stepStart(name, title) {
        if (!this.quiet)
            this.write(this.filter.apply(`-> ${name}: ${title}`));
    }
    stepEnd(name, status, ms, note) {
        const line = `   ${name} ${status} (${(ms / 1000).toFixed(2)}s)${note ? `: ${note}` : ''}`;
        if (!this.quiet || status !== 'ok')
            this.write(this.filter.apply(line));
    }
    addSecret(secret) {
        this.filter.add(secret);
    }
}

/**
 * The `sitecycle` command: the same pipelines as the actions, from a terminal or cron.
 * Progress goes to stderr, results to stdout (--json for machines). Exit codes:
 *   0 done (or nothing to do)
 *   1 the operation failed and was undone: the previous release serves
 *   2 bad input or config: nothing on the host was touched
 *   3 the site is locked by another run
 *   4 the operation failed and some undo failed: look at `sitecycle status`
 */
const EXIT = { ok: 0, failed: 1, input: 2, locked: 3, needsAttention: 4 };
const USAGE = `usage: sitecycle <command> [site] [options]

commands:
  init <site>       prepare the site root on its host and write its Apache vhost
  deploy <site>     install a release, verify it in the idle slot, switch, roll back on failure
  rollback <site>   go back to the previous release (or --to VERSION); marks the one left as bad
  status <site>     live release, installed releases, lock holder, history
  unlock <site>     clear the lock of a run that is gone (refuses while it runs)
  build [dir]       build an sdist and a wheel of a Python project with manifest.json (--out DIR)
  demo              build the sample app, deploy v1 and v2 to a local Apache, then a broken v3
                    and watch it roll back (on embedded defaults; --port, --dir)

options:
  -c, --config FILE     sitecycle.yml (default ./sitecycle.yml)
  --release PATH        release file, release folder or folder of releases (deploy)
  --version VERSION     the version to deploy from a folder of releases (default: newest)
  --to VERSION          the installed version to roll back to
  --lock-wait SECONDS   wait for a held lock instead of failing
  --ssh-key-file FILE   private key for SSH hosts (or set SITECYCLE_SSH_KEY to the key itself)
  --known-hosts FILE    pinned known-hosts file for SSH hosts
  --dry-run             print the plan and touch nothing (deploy)
  --no-reload           do not reload Apache after writing the vhost (init)
  --force               unlock even when the holder's state cannot be told from here
  --json                print the result as JSON on stdout
  -q, --quiet           only warnings and the result
  -h, --help            this text

exit codes: 0 done, 1 failed and undone, 2 bad input (nothing touched), 3 locked, 4 needs attention`;
function parse(argv) {
    try {
        const { values, positionals } = parseArgs({
            args: argv,
            allowPositionals: true,
            options: {
                config: { type: 'string', short: 'c' },
                release: { type: 'string' },
                version: { type: 'string' },
                to: { type: 'string' },
                'lock-wait': { type: 'string' },
                'ssh-key-file': { type: 'string' },
                'known-hosts': { type: 'string' },
                'dry-run': { type: 'boolean' },
                'no-reload': { type: 'boolean' },
                force: { type: 'boolean' },
                json: { type: 'boolean' },
                quiet: { type: 'boolean', short: 'q' },
                help: { type: 'boolean', short: 'h' },
                out: { type: 'string' },
                port: { type: 'string' },
                dir: { type: 'string' },
                keep: { type: 'boolean' }
            }
        });
        return { values, positionals };
    }
    catch (e) {
        throw new SitecycleError(`${e.message}\n\n${USAGE}`, 'usage');
    }
}
function numberOption(cli, name) {
    const v = cli.values[name];
    if (v === undefined)
        return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || !/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n))
        throw new SitecycleError(`--${name} ${String(v)}: expected a number of seconds, e.g. --${name} 60`, 'usage');
    return n;
}
async function siteAndExecutor(cli) {
    const name = cli.positionals[1];
    if (!name)
        throw new SitecycleError(`${cli.positionals[0]}: which site? e.g. sitecycle ${cli.positionals[0]} v1\n\n${USAGE}`, 'usage');
    const config = await loadConfig(cli.values.config ?? 'sitecycle.yml');
    const site = getSite(config, name);
    const ssh = {
        ...config.ssh,
        ...(cli.values['ssh-key-file'] ? { keyFile: cli.values['ssh-key-file'] } : {}),
        ...(cli.values['known-hosts'] ? { knownHostsFile: cli.values['known-hosts'] } : {}),
        ...(process.env.SITECYCLE_SSH_KEY ? { key: process.env.SITECYCLE_SSH_KEY } : {})
    };
    return { config, site, exec: createExecutor(site.host, ssh) };
}
function printOutcome(o, json, out) {
    if (json) {
        out(JSON.stringify(o, null, 2));
        return;
    }
    const lines = [
        `${o.op} ${o.status}: site ${o.site} serves ${o.version ?? 'nothing'} (was ${o.previousVersion ?? 'nothing'})`
    ];
    if (o.error)
        lines.push(`failed at ${o.failedStep}: ${o.error}`);
    out(lines.join('\n'));
}
function printStatus(s, json, out) {
    if (json) {
        out(JSON.stringify(s, null, 2));
        return;
    }
    if (!s.initialized) {
        out(`site ${s.site} at ${s.root} on ${s.host} is not initialized: run \`sitecycle init ${s.site}\``);
        return;
    }
    const lines = [
        `site ${s.site} on ${s.host} (${s.root})`,
        `  live:      ${s.live ?? 'none'} (slot ${s.liveSlot})`,
        `  previous:  ${s.idle ?? 'none'} (warm in the idle slot)`,
        `  releases:  ${s.releases.map(r => `${r.dir}${r.bad ? ' [bad]' : ''}${r.complete ? '' : ' [incomplete]'}`).join(', ') || 'none'}`,
        `  lock:      ${s.lock ? `held by ${s.lock.op} ${s.lock.id} (${s.lock.actor}, pid ${s.lock.pid} on ${s.lock.machine}, ${s.lock.state}) since ${s.lock.since}` : 'free'}`
    ];
    if (s.unfinished.length)
        lines.push(`  unfinished: ${s.unfinished.join(', ')} (the next operation recovers them)`);
    lines.push('  history:');
    for (const h of s.history)
        lines.push(`    ${h.at}  ${h.op.padEnd(8)} ${String(h.version ?? '').padEnd(10)} ${h.status}${h.error ? `: ${String(h.error)}` : ''}`);
    out(lines.join('\n'));
}
/** Run the CLI; returns the exit code. `out` receives results, progress goes to the reporter. */
async function main(argv, out = s => process.stdout.write(s + '\n')) {
    const reporter = new StreamReporter(undefined, false);
    let exec;
    try {
        const cli = parse(argv);
        if (cli.values.quiet)
            Object.assign(reporter, { quiet: true });
        const command = cli.positionals[0];
        if (cli.values.help || !command || command === 'help') {
            out(USAGE);
            return command || cli.values.help ? EXIT.ok : EXIT.input;
        }
        const json = Boolean(cli.values.json);
        const lockWait = numberOption(cli, 'lock-wait');
        for (const v of ['version', 'to']) {
            const s = cli.values[v];
            if (typeof s === 'string' && !isValidVersion(s))
                throw new SitecycleError(`--${v} ${s}: invalid version; expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`, 'input');
        }
        switch (command) {
            case 'init': {
                const t = await siteAndExecutor(cli);
                exec = t.exec;
                await initSite({ ...t, reporter, reload: !cli.values['no-reload'] });
                out(`site ${t.site.name} is ready at ${t.site.root} on ${t.exec.name}; vhost for ${t.site.url}`);
                return EXIT.ok;
            }
            case 'deploy': {
                if (cli.values['dry-run']) {
                    out(deployPlan().join('\n'));
                    return EXIT.ok;
                }
                const t = await siteAndExecutor(cli);
                exec = t.exec;
                const o = await deploy({
                    ...t,
                    reporter,
                    release: cli.values.release,
                    version: cli.values.version,
                    lockWait
                });
                printOutcome(o, json, out);
                return EXIT.ok;
            }
            case 'rollback': {
                const t = await siteAndExecutor(cli);
                exec = t.exec;
                const o = await rollback({
                    ...t,
                    reporter,
                    to: cli.values.to,
                    lockWait
                });
                printOutcome(o, json, out);
                return EXIT.ok;
            }
            case 'status': {
                const t = await siteAndExecutor(cli);
                exec = t.exec;
                printStatus(await siteStatus(t.config, t.site, t.exec), json, out);
                return EXIT.ok;
            }
            case 'unlock': {
                const t = await siteAndExecutor(cli);
                exec = t.exec;
                const h = await unlockSite(t.site, t.exec, Boolean(cli.values.force));
                out(h
                    ? `lock of ${h.op} ${h.id} (${h.actor}) on site ${t.site.name} cleared`
                    : `site ${t.site.name} is not locked`);
                return EXIT.ok;
            }
            case 'build': {
                const source = cli.positionals[1] ?? '.';
                const outDir = cli.values.out ?? 'releases';
                const built = await buildRelease({
                    sourceDir: source,
                    outDir,
                    onProgress: l => reporter.info(`   ${l}`)
                });
                out(json
                    ? JSON.stringify(built.manifest, null, 2)
                    : `built ${built.manifest.name} ${built.manifest.version} into ${built.dir}`);
                return EXIT.ok;
            }
            case 'demo':
                return await runDemo({
                    port: numberOption(cli, 'port'),
                    dir: cli.values.dir,
                    keep: cli.values.keep !== undefined ? Boolean(cli.values.keep) : true,
                    reporter,
                    out
                });
            default:
                throw new SitecycleError(`unknown command '${command}'\n\n${USAGE}`, 'usage');
        }
    }
    catch (e) {
        if (e instanceof OperationFailed) {
            printOutcome(e.outcome, Boolean(argv.includes('--json')), out);
            reporter.warn(e.message);
            return e.outcome.undoComplete ? EXIT.failed : EXIT.needsAttention;
        }
        if (e instanceof SitecycleError) {
            process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n');
            if (e.kind === 'lock')
                return EXIT.locked;
            if (e instanceof ConfigError ||
                ['config', 'input', 'usage', 'release', 'site'].includes(e.kind))
                return EXIT.input;
            return EXIT.failed;
        }
        process.stderr.write(reporter.filter.apply(`sitecycle: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`) + '\n');
        return EXIT.failed;
    }
    finally {
        await exec?.close().catch(() => undefined);
    }
}
const isMain = process.argv[1] && /(?:^|[\\/])(cli\.(?:js|ts)|sitecycle)$/.test(process.argv[1]);
if (isMain) {
    main(process.argv.slice(2)).then(code => process.exit(code));
}

export { EXIT, main };
